"""Turning sources into bundles: the kernel package and vat directories.

`KERNEL_SOURCE_DIR` is where initialize_swingset (and kernel-upgrade tooling)
bundles the kernel from. It is read at call time, so tests can point it at a
modified copy; a running node never reads it (it loads its stored bundle).
"""

from __future__ import annotations

import ast
from pathlib import Path

from kernelhost.swingstore.bundleformat import make_bundle

__all__ = ["KERNEL_SOURCE_DIR", "VAT_API_VERSION", "bundle_kernel_source", "bundle_vat_source",
           "kernel_source_constants"]

KERNEL_SOURCE_DIR = Path(__file__).resolve().parent.parent / "kernel"
VAT_API_VERSION = 1


def _source_dir() -> Path:
    return Path(KERNEL_SOURCE_DIR)  # a global looked up at call time: tests repoint it


def kernel_source_constants(source_dir: str | Path | None = None) -> dict:
    """KERNEL_API_VERSION, STATE_SCHEMA_VERSION, KERNEL_VERSION of a kernel source tree,
    read as literals (the source is never imported)."""
    path = Path(source_dir or _source_dir()) / "version.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    for key in ("KERNEL_API_VERSION", "STATE_SCHEMA_VERSION", "KERNEL_VERSION"):
        if key not in out:
            raise ValueError(f"{path} does not define {key}")
    return out


def bundle_kernel_source(source_dir: str | Path | None = None) -> bytes:
    """A deterministic kernel bundle of `source_dir` (default KERNEL_SOURCE_DIR)."""
    src = Path(source_dir or _source_dir())
    consts = kernel_source_constants(src)
    return make_bundle(src, kind="kernel", entry="kernel", package="kernel",
                       api_version=consts["KERNEL_API_VERSION"],
                       extra_manifest={"stateSchemaVersion": consts["STATE_SCHEMA_VERSION"],
                                       "kernelVersion": consts["KERNEL_VERSION"]})


def _vat_entry(src: Path, entry: str | None) -> str:
    if entry:
        return entry
    if (src / "vat.py").is_file():
        return "vat"
    modules = sorted(p.stem for p in src.glob("*.py") if p.name != "__init__.py")
    if len(modules) == 1:
        return modules[0]
    raise ValueError(f"vat source {str(src)!r}: say which module is the entry ('entry' in the config); "
                     f"found {modules}")


def bundle_vat_source(source: str | Path, *, entry: str | None = None, base_dir: str | Path | None = None) -> bytes:
    """Bundle a vat from a directory (or read a ready bundle .zip)."""
    path = Path(source)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.is_file() and path.suffix == ".zip":
        return path.read_bytes()
    if not path.is_dir():
        raise ValueError(f"vat source {str(path)!r} is neither a directory nor a .zip bundle")
    return make_bundle(path, kind="vat", entry=_vat_entry(path, entry), api_version=VAT_API_VERSION)
