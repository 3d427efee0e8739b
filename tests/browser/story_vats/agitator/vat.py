"""Story agitator (NOT critical): provoke() makes the critical bomb explode. It is the culprit
of the kernel panic in story 2, which governance removes with the terminateVat remedy: the
re-delivered poison action then meets the dead agitator instead of reaching the bomb."""

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
