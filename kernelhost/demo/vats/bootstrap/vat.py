"""Bootstrap vat: receives every static vat's root and the devices, wires them up,
and runs the demo workloads (pingpong, dynamic counter creation).

With ``vatParameters["demoUpgrade"]`` (set in the demo genesis) bootstrap also shows
issue 5 at genesis: it creates the dynamic vat "dyn-counter" from the bundle named
"counter", uses it (RAM 10 -> 15, durable 0 -> 7) and upgrades it to the bundle named
"counter-v2" (incarnation 1: RAM back to 100, durable count kept at 7). The console
shows the vat with two transcript spans.
"""

from swingset import E, Far, RemoteError


def build_root_object(vat_powers, vat_parameters, baggage):
    wiring = {"vats": {}, "devices": {}, "admins": {}, "demo": None}

    async def bootstrap(vats, devices):
        wiring["vats"] = vats
        wiring["devices"] = devices
        if "bank-watcher" in vats and "bridge" in devices:
            await E(vats["bank-watcher"]).set_bridge(devices["bridge"])
        if vat_parameters.get("demoUpgrade"):
            wiring["demo"] = await demo_upgrade()
        return "bootstrapped"

    async def demo_upgrade():
        """A dynamic vat, then a vat upgrade of it (never fails bootstrap: reports)."""
        try:
            made = await E(vat_powers.vat_admin).create_vat(
                "counter", {"name": "dyn-counter", "parameters": {"start": 10}})
            wiring["vats"]["dyn-counter"] = made["root"]
            wiring["admins"]["dyn-counter"] = made["admin_node"]
            await E(made["root"]).increment(5)
            await E(made["root"]).durable_increment(7)
            upgraded = await E(made["admin_node"]).upgrade("counter-v2", {"vatParameters": {"start": 100}})
        except RemoteError as e:
            return {"ok": False, "error": str(e)}
        return {"ok": True, "incarnationNumber": upgraded["incarnationNumber"]}

    async def upgrade_vat(name, bundle, vat_parameters=None):
        """Upgrade a dynamic vat created by this vat (console and tests)."""
        admin = wiring["admins"].get(name)
        if admin is None:
            raise KeyError(f"no dynamic vat {name!r} created by bootstrap")
        options = {} if vat_parameters is None else {"vatParameters": vat_parameters}
        return await E(admin).upgrade(bundle, options)

    async def terminate_vat(name, reason):
        """Terminate a dynamic vat created by this vat through its admin node."""
        admin = wiring["admins"].get(name)
        if admin is None:
            raise KeyError(f"no dynamic vat {name!r} created by bootstrap")
        await E(admin).terminate_with_failure(reason)
        return "terminating"

    def demo_status():
        return wiring["demo"]

    async def pingpong(n):
        """Ask alice to ping bob n times, each ping awaiting its pong."""
        vats = wiring["vats"]
        return await E(vats["alice"]).ping_bob(vats["bob"], n)

    async def make_counter(name, start=0):
        """Create a dynamic counter vat from the bundle registered as 'counter'."""
        made = await E(vat_powers.vat_admin).create_vat("counter", {"name": name, "parameters": {"start": start}})
        wiring["vats"][name] = made["root"]
        wiring["admins"][name] = made["admin_node"]
        return made["root"]

    async def call(vat_name, method, args):
        """Relay a call to another vat's root (for consoles and tests)."""
        target = wiring["vats"][vat_name]
        return await getattr(E(target), method)(*args)

    def vat_names():
        return sorted(wiring["vats"])

    return Far("Bootstrap", {
        "bootstrap": bootstrap,
        "pingpong": pingpong,
        "make_counter": make_counter,
        "call": call,
        "vat_names": vat_names,
        "upgrade_vat": upgrade_vat,
        "terminate_vat": terminate_vat,
        "demo_status": demo_status,
    })
