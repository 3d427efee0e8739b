"""Test bootstrap: wires the bridge device into the payer, bomb and bank-watcher vats (and
the bomb into the agitator, when the genesis has one)."""

from swingset import E, Far


def build_root_object(vat_powers, vat_parameters, baggage):
    wiring = {"vats": {}}

    async def bootstrap(vats, devices):
        wiring["vats"] = vats
        for name in ("payer", "bomb", "bank-watcher"):
            if name in vats and "bridge" in devices:
                await E(vats[name]).set_bridge(devices["bridge"])
        if "agitator" in vats and "bomb" in vats:  # only in the resume-remedy tests' genesis
            await E(vats["agitator"]).set_target(vats["bomb"])
        return "bootstrapped"

    async def make_counter(name, start=0):
        made = await E(vat_powers.vat_admin).create_vat("counter", {"name": name, "parameters": {"start": start}})
        wiring["vats"][name] = made["root"]
        return name

    async def call(vat_name, method, args):
        return await getattr(E(wiring["vats"][vat_name]), method)(*args)

    async def relay(n):
        """n round trips to the payer vat: kernel work of 2n+ cranks, more than one block's
        crank budget in the tests, so it finishes blocks later."""
        total = 0
        for i in range(n):
            total += await E(wiring["vats"]["payer"]).echo(i)
        return total

    return Far("Bootstrap", {"bootstrap": bootstrap, "make_counter": make_counter, "call": call, "relay": relay})
