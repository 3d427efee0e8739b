"""Vat-admin device: the kernel hooks behind the vat-admin vat.

``create(source, options)`` is called by the kernel's vat-admin vat (never by
user vats directly): it checks the bundle, allocates the new vatID at once and
queues a ``create-vat`` event; the vat is built in its own crank, after which
the kernel tells the vat-admin vat with ``new_vat_callback(vatID, result)``.
Issue 5 adds upgrade/terminate/change-options here the same way.
"""

from __future__ import annotations

from .base import Device, DeviceError

__all__ = ["VatAdminDevice", "DYNAMIC_VAT_OPTIONS"]

DYNAMIC_VAT_OPTIONS = frozenset({"name", "parameters", "managerType", "enablePipelining"})


class VatAdminDevice(Device):
    name = "vatAdmin"
    methods = frozenset({"create"})

    def create(self, source, options=None):
        options = options or {}
        if type(options) is not dict:
            raise DeviceError("create_vat options must be a dict")
        unknown = sorted(set(options) - DYNAMIC_VAT_OPTIONS)
        if unknown:
            raise DeviceError(f"create_vat: unknown options {unknown}")
        bundle_id = self.kernel.resolve_vat_bundle(source)
        return self.kernel.request_create_vat(bundle_id, options)
