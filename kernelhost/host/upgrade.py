"""Switching the kernel to another stored bundle between blocks (seed "kernel bundle upgrade").

Steps: check the bundle, `controller.set_kernel_bundle_id(new)` (the controller refuses a
missing or non-kernel bundle), shut the old controller down, start a controller from the
stored bundle. Any failure raises UpgradeFailed; the host then rolls the swing-store back to
its last commit (nothing else happened in the block yet: host actions run first) so the old
bundle ID and the old state are back, and the old kernel is started again when next needed.
The outcome depends only on the stored bundle and state, so every node decides the same.
"""

from __future__ import annotations

from kernelhost.failpoints import FailpointError, failpoint

KERNEL_BUNDLE_KEY = "kernelBundleID"


class UpgradeFailed(Exception):
    def __init__(self, message: str, old_bundle_id: str | None) -> None:
        super().__init__(message)
        self.old_bundle_id = old_bundle_id


def current_bundle_id(store) -> str | None:
    return store.kernel.kv.get(KERNEL_BUNDLE_KEY)


def upgrade_kernel(host, new_bundle_id) -> tuple[str | None, str]:
    """Returns (old, new) bundle IDs; raises UpgradeFailed (state untouched by the caller's
    rollback) or FailpointError/exit (failpoints are never swallowed)."""
    store = host.store
    old = current_bundle_id(store)
    if not isinstance(new_bundle_id, str) or not new_bundle_id:
        raise UpgradeFailed("upgradeKernel needs a bundleID", old)
    if not store.kernel.bundles.has_bundle(new_bundle_id):
        raise UpgradeFailed(f"bundle {new_bundle_id} is not installed", old)
    try:
        controller = host.ensure_controller()
        controller.set_kernel_bundle_id(new_bundle_id)
        controller.shutdown()
        host.controller = None
        failpoint("kernel.upgrade.after_shutdown")
        host.ensure_controller()
    except FailpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to start the new kernel keeps the old one
        raise UpgradeFailed(f"new kernel failed to start: {type(exc).__name__}: {exc}", old) from exc
    return old, new_bundle_id
