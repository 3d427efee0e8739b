"""Scenario bootstrap vat: creates, calls, upgrades and terminates dynamic vats for the
tests, and keeps a pinger that records every ping it receives."""

from swingset import E, Far, RemoteError


def build_root_object(vat_powers, vat_parameters, baggage):
    vats = {}
    admins = {}
    pings = []
    outcomes = {}
    held = {}

    pinger = Far("Pinger", {"ping": lambda text: pings.append(text) or len(pings)})

    def bootstrap(static_vats, devices):
        vats.update(static_vats)
        return "ready"

    async def create(name, source, options):
        options = dict(options or {})
        options["name"] = name
        try:
            made = await E(vat_powers.vat_admin).create_vat(source, options)
        except RemoteError as e:
            return ["rejected", str(e)]
        vats[name] = made["root"]
        admins[name] = made["admin_node"]
        return ["ok", await E(made["admin_node"]).get_vat_id()]

    async def call(name, method, args):
        try:
            return ["ok", await getattr(E(vats[name]), method)(*args)]
        except RemoteError as e:
            return ["rejected", e.name, str(e)]

    async def upgrade(name, source, options, with_pinger):
        options = dict(options or {})
        if with_pinger:
            params = dict(options.get("vatParameters") or {})
            params["pinger"] = pinger
            options["vatParameters"] = params
        try:
            return ["ok", await E(admins[name]).upgrade(source, options)]
        except RemoteError as e:
            return ["rejected", e.name, str(e)]

    def terminate(name, reason):
        E.sendonly(admins[name]).terminate_with_failure(reason)
        return "asked"

    def start_watch(name):
        def ok(value):
            outcomes[name] = ["fulfilled", value]

        def err(reason):
            outcomes[name] = ["rejected", getattr(reason, "name", "?"), str(reason)]

        E(admins[name]).done().then(ok, err)
        return "watching"

    def outcome(name):
        return outcomes.get(name)

    def hold(name, key):
        held[key] = E(vats[name]).hold(key)
        return "holding"

    async def held_outcome(key):
        try:
            return ["fulfilled", await held[key]]
        except RemoteError as e:
            return ["rejected", e.name, str(e)]

    async def keep(name, method, args, key):
        held[key] = await getattr(E(vats[name]), method)(*args)
        return "kept"

    async def call_kept(key, method, args):
        try:
            return ["ok", await getattr(E(held[key]), method)(*args)]
        except RemoteError as e:
            return ["rejected", e.name, str(e)]

    def get_pings():
        return list(pings)

    def give_pinger(name):
        return E(vats[name]).set_pinger(pinger)

    return Far("Boot", {
        "bootstrap": bootstrap, "create": create, "call": call, "upgrade": upgrade,
        "terminate": terminate, "start_watch": start_watch, "outcome": outcome, "hold": hold,
        "held_outcome": held_outcome, "get_pings": get_pings, "give_pinger": give_pinger,
        "keep": keep, "call_kept": call_kept,
    })
