"""Test bomb (a critical vat): explode() fails the vat — a kernel panic — while the chain
account "fuse" holds funds; once the fuse is empty it only counts."""

from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    D = vat_powers.D  # noqa: N806
    state = {"bridge": None, "defused": 0}

    def set_bridge(bridge):
        state["bridge"] = bridge

    def explode():
        fuse = D(state["bridge"]).call({"type": "VBANK_GET_BALANCE", "address": "fuse", "denom": "ucon"})
        if fuse.get("amount") not in (None, "0"):
            vat_powers.exit_vat_with_failure("boom: the fuse is lit")
            return "exploding"
        state["defused"] += 1
        return state["defused"]

    return Far("Bomb", {"set_bridge": set_bridge, "explode": explode})
