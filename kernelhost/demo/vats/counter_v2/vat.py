"""Counter v2: the upgrade target of the demo's dynamic counter. It redefines the durable
"Tally" kind of v1 (so the durable count survives the upgrade); its RAM counter starts
again from vatParameters["start"]. New in v2: ``version()`` and ``history()``."""

from swingset import Far, prepare_kind


def build_root_object(vat_powers, vat_parameters, baggage):
    ram = {"value": vat_parameters.get("start", 0), "calls": []}

    make_tally = prepare_kind(
        baggage, "Tally",
        lambda: {"count": 0},
        {
            "add": lambda ctx, n: _add(ctx, n),
            "read": lambda ctx: ctx.state.count,
        },
    )
    tally = baggage.provide("tally", make_tally)
    if not baggage.has("upgrades"):
        baggage.init("upgrades", 0)
    baggage.set("upgrades", baggage.get("upgrades") + 1)

    def _note(what, value):
        ram["calls"] = (ram["calls"] + [[what, value]])[-10:]
        return value

    def first():
        ram["value"] += 1
        return _note("first", ram["value"])

    def second():
        ram["value"] += 20
        return _note("second", ram["value"])

    def increment(n=1):
        ram["value"] += n
        return _note("increment", ram["value"])

    def read():
        return ram["value"]

    def durable_increment(n=1):
        return _note("durable_increment", tally.add(n))

    def durable_read():
        return tally.read()

    def version():
        return {"version": "v2", "upgrades": baggage.get("upgrades")}

    def history():
        return list(ram["calls"])

    return Far("Counter", {
        "first": first,
        "second": second,
        "increment": increment,
        "read": read,
        "durable_increment": durable_increment,
        "durable_read": durable_read,
        "version": version,
        "history": history,
    })


def _add(ctx, n):
    ctx.state.count = ctx.state.count + n
    return ctx.state.count
