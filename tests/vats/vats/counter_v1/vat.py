"""Counter v1: a RAM counter (rebuilt by replay) and a durable Tally (kept by upgrades)."""

from swingset import E, Far, make_promise_kit, prepare_kind


def build_root_object(vat_powers, vat_parameters, baggage):
    ram = {"value": vat_parameters.get("start", 0)}
    kits = {}
    make_tally = prepare_kind(baggage, "Tally", lambda: {"count": 0}, {
        "add": lambda ctx, n: _add(ctx, n),
        "read": lambda ctx: ctx.state.count,
    })
    tally = baggage.provide("tally", make_tally)
    if vat_parameters.get("extra_kind"):
        make_extra = prepare_kind(baggage, "Extra", lambda: {"n": 0}, {"n": lambda ctx: ctx.state.n})
        baggage.provide("extra", make_extra)

    def add(n):
        ram["value"] += n
        return ram["value"]

    def durable_add(n):
        return tally.add(n)

    def both(n):
        return [add(n), durable_add(n)]

    def hold(key):
        kit = kits[key] = make_promise_kit()
        return kit.promise

    def ping(pinger, text):
        return E(pinger).ping(text)

    return Far("Counter", {
        "add": add, "durable_add": durable_add, "both": both, "hold": hold, "ping": ping,
        "make_thing": lambda label: Far("Thing", {"label": lambda: label}),
        "version": lambda: "v1", "read": lambda: [ram["value"], tally.read()],
        "params": lambda: {k: v for k, v in vat_parameters.items() if k != "pinger"},
        "exit": lambda reason: vat_powers.exit_vat(reason),
    })


def _add(ctx, n):
    ctx.state.count = ctx.state.count + n
    return ctx.state.count
