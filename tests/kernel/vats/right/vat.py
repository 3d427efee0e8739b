"""Test vat on the right: answers, fails, defers and makes objects."""

from swingset import E, Far, make_promise_kit


def build_root_object(vat_powers, vat_parameters, baggage):
    kits = {}
    made = {"count": 0}

    def make_thing(label):
        made["count"] += 1
        return Far("Thing", {"label": lambda: label, "add": lambda a, b: a + b})

    def echo(x):
        return x

    def fail(message):
        raise ValueError(message)

    def deferred(key):
        kit = make_promise_kit()
        kits[key] = kit
        return kit.promise

    def settle(key, value):
        kits.pop(key).resolve(value)
        return "settled"

    def settle_with_thing(key, label):
        kits.pop(key).resolve(make_thing(label))
        return "settled"

    def refuse(key, message):
        kits.pop(key).reject(ValueError(message))
        return "refused"

    async def await_arg(p):
        value = await p
        return ["got", value]

    def call_label(thing):
        return E(thing).label()

    def same(a, b):
        return a is b

    def things_made():
        return made["count"]

    return Far("Right", {"make_thing": make_thing, "echo": echo, "fail": fail, "deferred": deferred,
                         "settle": settle, "settle_with_thing": settle_with_thing, "refuse": refuse,
                         "await_arg": await_arg, "call_label": call_label, "same": same,
                         "things_made": things_made})
