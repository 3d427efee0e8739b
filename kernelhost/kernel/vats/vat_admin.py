"""The vat-admin vat: the service vats use to create (and, in issue 5, upgrade and
terminate) dynamic vats.

``E(vat_powers.vat_admin).create_vat(bundle_id_or_name, options)`` resolves to
``{"root": <new vat's root>, "admin_node": <AdminNode>}`` once the new vat has
run its build_root_object, or rejects if that failed. The vat keeps its pending
creations in memory; after a restart the memory comes back by transcript
replay, like any vat.
"""

from __future__ import annotations

__all__ = ["build_namespace"]


def build_namespace(extra_modules: dict) -> dict:
    sw = extra_modules["swingset"]
    Far = sw["Far"]  # noqa: N806 - the SwingSet name
    RemoteError = sw["RemoteError"]  # noqa: N806
    make_promise_kit = sw["make_promise_kit"]

    def build_root_object(vat_powers, vat_parameters, baggage):
        D = vat_powers.D  # noqa: N806
        device = vat_powers.admin_device
        pending = {}

        def make_admin_node(vat_id):
            def not_yet(*_args):
                raise NotImplementedError("vat upgrade/termination arrive with the next kernel release")

            return Far("AdminNode", {
                "get_vat_id": lambda: vat_id,
                "upgrade": not_yet,
                "terminate_with_failure": not_yet,
                "done": not_yet,
            })

        def create_vat(source, options=None):
            vat_id = D(device).create(source, options or {})
            kit = make_promise_kit()
            pending[vat_id] = kit
            return kit.promise

        def new_vat_callback(vat_id, result):
            kit = pending.pop(vat_id, None)
            if kit is None:
                return
            if "error" in result:
                kit.reject(RemoteError(f"create_vat failed: {result['error']}", "VatCreationError"))
            else:
                kit.resolve({"root": result["root"], "admin_node": make_admin_node(vat_id)})

        return Far("VatAdminService", {"create_vat": create_vat, "new_vat_callback": new_vat_callback})

    return {"build_root_object": build_root_object}
