"""Vats whose code ships inside the kernel bundle (trusted, no sandbox).

Each entry maps a name (recorded as ``vNN.source = {"kernelVat": name}``) to a
``build_namespace(extra_modules) -> {"build_root_object": ...}`` function, the
same shape a sandboxed vat bundle's namespace has.
"""

from .vat_admin import build_namespace as _vat_admin

KERNEL_VATS = {"vatAdmin": _vat_admin}

__all__ = ["KERNEL_VATS"]
