"""Vat-admin device: the kernel hooks behind the vat-admin vat.

Called by the kernel's vat-admin vat only (never by user vats directly):

- ``create(source, options)`` checks the bundle, allocates the new vatID at once and
  queues a ``create-vat`` event; the vat is built in its own crank, after which the
  kernel tells vat-admin with ``new_vat_callback(vatID, result)``.
- ``upgrade(vatID, source, options)`` checks the bundle and options, queues an
  ``upgrade-vat`` event and returns its upgrade ID; the kernel answers with
  ``vat_upgrade_callback(upgradeID, {"incarnationNumber"} | {"error"})``.
- ``terminate(vatID, reason)`` queues a ``terminate-vat`` event; like every
  termination of a dynamic vat it ends with ``vat_terminated(vatID, failure, reason)``.
"""

from __future__ import annotations

from .base import Device, DeviceError

__all__ = ["VatAdminDevice", "DYNAMIC_VAT_OPTIONS"]

DYNAMIC_VAT_OPTIONS = frozenset({"name", "parameters", "vatParameters", "managerType", "enablePipelining",
                                 "critical"})
MANAGER_TYPES = frozenset({"local", "subprocess"})


class VatAdminDevice(Device):
    name = "vatAdmin"
    methods = frozenset({"create", "upgrade", "terminate"})

    def create(self, source, options=None):
        options = options or {}
        if type(options) is not dict:
            raise DeviceError("create_vat options must be a dict")
        unknown = sorted(set(options) - DYNAMIC_VAT_OPTIONS)
        if unknown:
            raise DeviceError(f"create_vat: unknown options {unknown}")
        if "name" in options and (type(options["name"]) is not str or not options["name"]):
            raise DeviceError("create_vat: name must be a non-empty str")
        mt = options.get("managerType")
        if mt is not None and mt not in MANAGER_TYPES:
            raise DeviceError(f"create_vat: unknown managerType {mt!r} (known: {sorted(MANAGER_TYPES)})")
        bundle_id = self.kernel.resolve_vat_bundle(source)
        return self.kernel.request_create_vat(bundle_id, options)

    def upgrade(self, vat_id, source, options=None):
        options = options or {}
        if type(options) is not dict:
            raise DeviceError("upgrade options must be a dict")
        if type(vat_id) is not str:
            raise DeviceError("upgrade: bad vat ID")
        bundle_id = self.kernel.resolve_vat_bundle(source)
        return self.kernel.request_upgrade_vat(vat_id, bundle_id, options)

    def terminate(self, vat_id, reason=None):
        if type(vat_id) is not str:
            raise DeviceError("terminate: bad vat ID")
        self.kernel.request_terminate_vat(vat_id, reason)
        return None
