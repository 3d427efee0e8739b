"""Test vat in the middle: relays to its peer and holds references."""

from swingset import E, Far


def build_root_object(vat_powers, vat_parameters, baggage):
    state = {"peer": None, "kept": []}

    def set_peer(peer):
        state["peer"] = peer

    def get_peer():
        return state["peer"]

    async def relay_label(thing):
        return await E(state["peer"]).call_label(thing)

    async def await_arg(p):
        value = await p
        return ["middle got", value]

    def keep(thing):
        state["kept"].append(thing)
        return len(state["kept"])

    def echo(x):
        return x

    return Far("Middle", {"set_peer": set_peer, "get_peer": get_peer, "relay_label": relay_label,
                          "await_arg": await_arg, "keep": keep, "echo": echo})
