"""Bob: answers every ping with its number."""

from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    stats = {"pongs": 0}

    def ping(i):
        stats["pongs"] += 1
        return i

    def get_pongs():
        return stats["pongs"]

    return Far("Bob", {"ping": ping, "get_pongs": get_pongs})
