"""Exception types of the kernel (one module so every part shares them)."""

from __future__ import annotations

__all__ = ["KernelPanicError", "KernelStateError", "VatFatal", "IllegalSyscall", "ReplayError"]


class KernelPanicError(Exception):
    """The kernel hit something it cannot recover from (a critical vat died, an
    invariant broke, a vat could not be re-created). Sticky: once raised, every
    later run()/step() raises it again. The host must not commit."""


class KernelStateError(Exception):
    """The kvStore holds state this kernel cannot run on (wrong schema version,
    not initialised, already initialised)."""


class VatFatal(Exception):
    """Liveslots cannot continue: the delivery fails and the kernel terminates the vat."""


class IllegalSyscall(Exception):
    """A vat made a syscall the kernel refuses; the vat is terminated at the end of the crank."""


class ReplayError(Exception):
    """Replaying a transcript did not reproduce the recorded syscalls ("anachrophobia")."""
