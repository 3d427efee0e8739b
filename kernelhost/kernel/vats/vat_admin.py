"""The vat-admin vat: the service vats use to create, upgrade and terminate dynamic vats.

``E(vat_powers.vat_admin).create_vat(bundle_id_or_name, options)`` resolves to
``{"root": <new vat's root>, "admin_node": <AdminNode>}`` once the new vat has run
its build_root_object, or rejects if that failed. Options: ``name``, ``parameters``
(alias ``vatParameters``), ``critical``, ``managerType`` (``local`` | ``subprocess``),
``enablePipelining``.

The admin node:

- ``get_vat_id()``;
- ``upgrade(bundle_id_or_name, {"vatParameters": ...})`` -> ``{"incarnationNumber": n}``,
  or a rejection whose message contains "vat-upgrade failure" (the old incarnation
  carries on); unknown options are rejected at once;
- ``terminate_with_failure(reason)``: the vat is terminated (its promises rejected
  with `reason`);
- ``done()``: a promise that settles when the vat ends: fulfilled with the completion
  value of ``exit_vat``, rejected with the reason of a failure or termination.

The vat keeps its pending requests in memory; after a restart that memory comes
back by transcript replay, like any vat's.
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
        upgrades = {}
        done_kits = {}
        ended = {}

        def done_kit(vat_id):
            kit = done_kits.get(vat_id)
            if kit is None:
                kit = done_kits[vat_id] = make_promise_kit()
            return kit

        def make_admin_node(vat_id):
            def upgrade(source, options=None):
                upgrade_id = D(device).upgrade(vat_id, source, options or {})
                kit = make_promise_kit()
                upgrades[upgrade_id] = kit
                return kit.promise

            def terminate_with_failure(reason=None):
                D(device).terminate(vat_id, reason)

            def done():
                return done_kit(vat_id).promise

            return Far("AdminNode", {
                "get_vat_id": lambda: vat_id,
                "upgrade": upgrade,
                "terminate_with_failure": terminate_with_failure,
                "done": done,
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

        def vat_upgrade_callback(upgrade_id, result):
            kit = upgrades.pop(upgrade_id, None)
            if kit is None:
                return
            if "error" in result:
                kit.reject(RemoteError(str(result["error"]), "VatUpgradeError"))
            else:
                kit.resolve({"incarnationNumber": result["incarnationNumber"]})

        def vat_terminated(vat_id, failure, reason):
            if vat_id in ended:
                return
            ended[vat_id] = True
            kit = done_kit(vat_id)
            if failure:
                kit.reject(reason if isinstance(reason, BaseException)
                           else RemoteError(str(reason), "VatTerminated"))
            else:
                kit.resolve(reason)

        return Far("VatAdminService", {
            "create_vat": create_vat,
            "new_vat_callback": new_vat_callback,
            "vat_upgrade_callback": vat_upgrade_callback,
            "vat_terminated": vat_terminated,
        })

    return {"build_root_object": build_root_object}
