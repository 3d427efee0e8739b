"""Alice: pings whoever she is given, one ping at a time."""

from swingset import E, Far


def build_root_object(vat_powers, vat_parameters, baggage):
    stats = {"pings": 0}

    async def ping_bob(bob, n):
        for i in range(n):
            pong = await E(bob).ping(i)
            if pong != i:
                raise ValueError(f"bob answered {pong} to ping {i}")
            stats["pings"] += 1
        return stats["pings"]

    def get_pings():
        return stats["pings"]

    return Far("Alice", {"ping_bob": ping_bob, "get_pings": get_pings})
