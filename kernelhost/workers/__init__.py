"""Vat workers outside the kernel: subprocess workers with resource limits.

The kernel only knows the worker interface (kernelhost/kernel/worker.py); the host picks
the worker kind. ``make_worker_factory()`` is what the controller's ``worker_factory``
takes for vats whose manager type is ``subprocess``.
"""

from .subprocess_worker import (
    SubprocessWorker,
    WorkerDied,
    WorkerLimits,
    find_supervisor_module,
    make_worker_factory,
    vat_setup_from_bundle,
)

__all__ = ["SubprocessWorker", "WorkerDied", "WorkerLimits", "find_supervisor_module",
           "make_worker_factory", "vat_setup_from_bundle"]
