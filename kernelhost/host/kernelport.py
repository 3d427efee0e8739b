"""Which controller the host drives.

Normally `kernelhost.controller` (the kernel part's API, ARCHITECTURE.md "Controller API"). Tests may
`use(module)` a stand-in with the same functions (make_controller, initialize_swingset,
KernelPanic) to exercise the host and chain before or without the real kernel.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_override: ModuleType | None = None


def use(module: ModuleType | None) -> None:
    global _override
    _override = module


def controller_module() -> ModuleType:
    if _override is not None:
        return _override
    return importlib.import_module("kernelhost.controller")


def panic_types() -> tuple[type[BaseException], ...]:
    """Exception classes that mean "the kernel panicked" (-> paused mode)."""
    module = controller_module()
    found = [getattr(module, name) for name in ("KernelPanic", "KernelPanicError") if hasattr(module, name)]
    return tuple(found) or (_NeverRaised,)


class _NeverRaised(Exception):
    pass
