"""Test bootstrap vat: each method exercises one kind of message passing."""

from swingset import E, Far, RemoteError, make_promise_kit


def build_root_object(vat_powers, vat_parameters, baggage):
    wiring = {}

    def bootstrap(vats, devices):
        wiring.update(vats)
        wiring["devices"] = devices
        return "ready"

    async def send_and_reply(x):
        return await E(wiring["right"]).echo(x)

    async def rejection():
        try:
            await E(wiring["right"]).fail("nope")
        except RemoteError as e:
            return ["rejected", e.name, str(e)]
        return "not rejected"

    async def pipelined_call():
        # send to the result promise of a message that has not been answered yet
        thing = E(wiring["right"]).make_thing("t1")
        total = E(thing).add(2, 3)
        label = E(thing).label()
        return [await total, await label]

    async def pipelined_deferred(key):
        # right answers with an unresolved promise that it decides; we message it at once
        thing = E(wiring["right"]).deferred(key)
        return await E(thing).add(40, 2)

    async def local_promise_as_arg():
        kit = make_promise_kit()
        answer = E(wiring["right"]).await_arg(kit.promise)
        kit.resolve(42)
        return await answer

    async def remote_promise_as_arg(key):
        p = E(wiring["right"]).deferred(key)  # decided by right, unresolved
        answer = E(wiring["middle"]).await_arg(p)  # middle gets right's promise
        await E(wiring["right"]).settle(key, "from right")
        return await answer

    async def rejected_promise(key):
        p = E(wiring["right"]).deferred(key)
        await E(wiring["right"]).refuse(key, "refused")
        try:
            await p
        except RemoteError as e:
            return ["rejected", e.name, str(e)]
        return "not rejected"

    async def objects_by_reference():
        thing = await E(wiring["right"]).make_thing("x")
        via_middle = await E(wiring["middle"]).relay_label(thing)  # middle -> right, with right's own object
        identity = await E(wiring["right"]).same(thing, thing)
        peer = await E(wiring["middle"]).get_peer()  # an object returned through a third vat
        echoed = await E(peer).echo("hi")
        kept = await E(wiring["middle"]).keep(thing)
        return [via_middle, identity, echoed, kept]

    async def local_far():
        counter = Far("Local", {"inc": lambda n: n + 1})
        return await E(counter).inc(1)

    async def send_to_data():
        p = E(wiring["right"]).echo(5)
        try:
            await E(p).foo()
        except RemoteError as e:
            return ["rejected", e.name]
        return "not rejected"

    async def wire():
        await E(wiring["middle"]).set_peer(wiring["right"])
        return "wired"

    async def call_vat(name, method, args):
        return await getattr(E(wiring[name]), method)(*args)

    async def hold_promise_of(name, key):
        wiring["held." + key] = E(wiring[name]).deferred(key)
        return "holding"

    async def await_held(key):
        try:
            return ["fulfilled", await wiring["held." + key]]
        except RemoteError as e:
            return ["rejected", e.name, str(e)]

    async def give_device(vat_name, device_name, method):
        return await getattr(E(wiring[vat_name]), method)(wiring["devices"][device_name])

    def die(reason):
        vat_powers.exit_vat_with_failure(reason)
        return "dying"

    async def make_counter(name, start):
        made = await E(vat_powers.vat_admin).create_vat("counter", {"name": name, "parameters": {"start": start}})
        wiring[name] = made["root"]
        return await E(made["admin_node"]).get_vat_id()

    async def bad_create(source):
        try:
            await E(vat_powers.vat_admin).create_vat(source, {})
        except RemoteError as e:
            return ["rejected", e.name, str(e)]
        return "created?"

    return Far("Left", {
        "bootstrap": bootstrap, "send_and_reply": send_and_reply, "rejection": rejection,
        "pipelined_call": pipelined_call, "pipelined_deferred": pipelined_deferred,
        "local_promise_as_arg": local_promise_as_arg, "remote_promise_as_arg": remote_promise_as_arg,
        "rejected_promise": rejected_promise, "objects_by_reference": objects_by_reference,
        "local_far": local_far, "send_to_data": send_to_data, "wire": wire, "call_vat": call_vat,
        "hold_promise_of": hold_promise_of, "await_held": await_held, "die": die,
        "make_counter": make_counter, "bad_create": bad_create, "give_device": give_device,
    })
