"""Bootstrap vat: receives every static vat's root and the devices, wires them up,
and runs the demo workloads (pingpong, dynamic counter creation)."""

from swingset import E, Far


def build_root_object(vat_powers, vat_parameters, baggage):
    wiring = {"vats": {}, "devices": {}}

    async def bootstrap(vats, devices):
        wiring["vats"] = vats
        wiring["devices"] = devices
        if "bank-watcher" in vats and "bridge" in devices:
            await E(vats["bank-watcher"]).set_bridge(devices["bridge"])
        return "bootstrapped"

    async def pingpong(n):
        """Ask alice to ping bob n times, each ping awaiting its pong."""
        vats = wiring["vats"]
        return await E(vats["alice"]).ping_bob(vats["bob"], n)

    async def make_counter(name, start=0):
        """Create a dynamic counter vat from the bundle registered as 'counter'."""
        made = await E(vat_powers.vat_admin).create_vat("counter", {"name": name, "parameters": {"start": start}})
        wiring["vats"][name] = made["root"]
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
    })
