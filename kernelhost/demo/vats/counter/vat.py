"""Counter: one number in RAM (rebuilt by transcript replay after a restart) and one
durable number (in the vatstore, kept across upgrades)."""

from swingset import Far, prepare_kind


def build_root_object(vat_powers, vat_parameters, baggage):
    ram = {"value": vat_parameters.get("start", 0)}

    make_tally = prepare_kind(
        baggage, "Tally",
        lambda: {"count": 0},
        {
            "add": lambda ctx, n: _add(ctx, n),
            "read": lambda ctx: ctx.state.count,
        },
    )
    tally = baggage.provide("tally", make_tally)

    def first():
        ram["value"] += 1
        return ram["value"]

    def second():
        ram["value"] += 20
        return ram["value"]

    def increment(n=1):
        ram["value"] += n
        return ram["value"]

    def read():
        return ram["value"]

    def durable_increment(n=1):
        return tally.add(n)

    def durable_read():
        return tally.read()

    return Far("Counter", {
        "first": first,
        "second": second,
        "increment": increment,
        "read": read,
        "durable_increment": durable_increment,
        "durable_read": durable_read,
    })


def _add(ctx, n):
    ctx.state.count = ctx.state.count + n
    return ctx.state.count
