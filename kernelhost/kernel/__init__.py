"""The Kernel Console kernel: a deterministic SwingSet-style message-passing kernel.

This package is bundled (kind "kernel") and loaded by kernelhost.controller from
the swing-store under a private module name, never imported from the source
tree by the running node. Hence: standard library only, relative imports only,
no clock, randomness, filesystem or processes; storage, devices, bundles and
workers come in as arguments.

Entry points the controller calls (KERNEL_API_VERSION 1):

    initialize_kernel(kernel_storage, config, *, kernel_bundle_id) -> None
    make_kernel(kernel_storage, *, read_bundle, kernel_bundle_id, devices,
                worker_factory, log, options) -> Kernel
"""

from . import marshal
from .errors import IllegalSyscall, KernelPanicError, KernelStateError, ReplayError, VatFatal
from .initialize import initialize_kernel
from .kernel import Kernel
from .version import KERNEL_API_VERSION, KERNEL_VERSION, STATE_SCHEMA_VERSION

__all__ = [
    "KERNEL_API_VERSION",
    "KERNEL_VERSION",
    "STATE_SCHEMA_VERSION",
    "IllegalSyscall",
    "Kernel",
    "KernelPanicError",
    "KernelStateError",
    "ReplayError",
    "VatFatal",
    "initialize_kernel",
    "make_kernel",
    "marshal",
]


def make_kernel(kernel_storage, *, read_bundle, kernel_bundle_id=None, devices=None,
                worker_factory=None, log=None, options=None) -> Kernel:
    """Build a kernel over initialised state. `read_bundle(bundle_id) -> (manifest dict,
    {member: bytes})` reads and validates a stored bundle (the host's bundle code)."""
    return Kernel(kernel_storage, read_bundle=read_bundle, kernel_bundle_id=kernel_bundle_id,
                  devices=devices, worker_factory=worker_factory, log=log, options=options)
