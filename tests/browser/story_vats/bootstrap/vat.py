"""Story bootstrap: wires the bridge device into the bomb and bank-watcher vats and the bomb
into the agitator."""

from swingset import E, Far


def build_root_object(vat_powers, vat_parameters, baggage):
    async def bootstrap(vats, devices):
        for name in ("bomb", "bank-watcher"):
            await E(vats[name]).set_bridge(devices["bridge"])
        await E(vats["agitator"]).set_target(vats["bomb"])
        return "bootstrapped"

    return Far("Bootstrap", {"bootstrap": bootstrap})
