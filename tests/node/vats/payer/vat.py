"""Test payer: moves chain funds through the bridge device (chain-sends that change state)
and makes multi-crank work (spin) to exercise the per-block crank budget."""

from swingset import E, Far


def build_root_object(vat_powers, vat_parameters, baggage):
    D = vat_powers.D  # noqa: N806
    state = {"bridge": None, "spins": 0}

    def set_bridge(bridge):
        state["bridge"] = bridge

    def give(address, amount):
        return D(state["bridge"]).call({"type": "VBANK_GIVE", "address": address, "denom": "ucon",
                                        "amount": str(amount)})

    def grab(address, amount):
        return D(state["bridge"]).call({"type": "VBANK_GRAB", "address": address, "denom": "ucon",
                                        "amount": str(amount)})

    def store(path, value):
        return D(state["bridge"]).call({"type": "VSTORAGE_SET", "path": path, "value": value})

    async def spin(n):
        state["spins"] += 1
        if n > 0:
            await E(root).spin(n - 1)
        return state["spins"]

    def echo(x):
        return x

    root = Far("Payer", {"set_bridge": set_bridge, "give": give, "grab": grab, "store": store, "spin": spin,
                         "echo": echo})
    return root
