"""Test agitator (NOT critical): provoke() makes the critical bomb explode — the culprit
of a kernel panic that governance can remove with the terminateVat remedy (the poison
action then goes splat against the dead agitator instead of reaching the bomb)."""

from swingset import E, Far


def build_root_object(vat_powers, vat_parameters, baggage):
    state = {"target": None}

    def set_target(target):
        state["target"] = target

    async def provoke():
        return await E(state["target"]).explode()

    def ping():
        return "pong"

    return Far("Agitator", {"set_target": set_target, "provoke": provoke, "ping": ping})
