"""Load a kernel bundle from bytes into a private module namespace.

The node never runs the kernel from the source tree: the controller takes the
bundle stored under ``kernelBundleID`` and imports it as a package with a name
of its own, ``_kernel_b1_<first 16 hex digits of the bundle ID>``, through a
meta-path finder that only answers for that name and reads modules from the
bundle's files. Two bundles (e.g. before and after a kernel upgrade) therefore
load side by side without sharing a single module object, and editing the
source tree changes nothing for a node that already has its kernel stored.

A loaded bundle is cached per process by bundle ID (it is content-addressed, so
the same ID is the same code).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import linecache
import sys
import threading
import types

from kernelhost.swingstore.bundleformat import BundleError, read_bundle_files, validate_bundle

__all__ = ["load_kernel_bundle", "private_package_name", "KernelBundleError"]

_loaded: dict[str, types.ModuleType] = {}
_lock = threading.Lock()


class KernelBundleError(Exception):
    """A bundle cannot be used as the kernel."""


def private_package_name(bundle_id: str) -> str:
    return f"_kernel_b1_{bundle_id[3:19]}"


class _BundleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, package: str, root: str, files: dict, bundle_id: str):
        self.package = package
        self.root = root  # member prefix of the package, e.g. "kernel/"
        self.files = files
        self.origin = f"<kernel bundle {bundle_id[:19]}>"

    def _member(self, fullname: str):
        if fullname == self.package:
            rel = ""
        elif fullname.startswith(self.package + "."):
            rel = fullname[len(self.package) + 1:].replace(".", "/")
        else:
            return None, False
        if rel == "":
            candidates = [(self.root + "__init__.py", True)]
        else:
            candidates = [(self.root + rel + ".py", False), (self.root + rel + "/__init__.py", True)]
        for member, is_pkg in candidates:
            if member in self.files:
                return member, is_pkg
        return None, False

    def find_spec(self, fullname, path=None, target=None):
        member, is_pkg = self._member(fullname)
        if member is None:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, origin=f"{self.origin}/{member}", is_package=is_pkg)
        spec.has_location = False
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        member, _is_pkg = self._member(module.__name__)
        source = self.files[member].decode("utf-8")
        filename = f"{self.origin}/{member}"
        # so tracebacks show the bundle's source lines (mtime None: never re-checked on disk)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = compile(source, filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - this is the module loader

    def get_source(self, fullname):
        member, _ = self._member(fullname)
        return self.files[member].decode("utf-8") if member else None


def load_kernel_bundle(bundle_id: str, data: bytes) -> types.ModuleType:
    """Import the kernel package in bundle `data` (whose ID must be `bundle_id`)."""
    with _lock:
        mod = _loaded.get(bundle_id)
        if mod is not None:
            return mod
        try:
            manifest = validate_bundle(data, bundle_id)
            files = read_bundle_files(data, bundle_id)
        except BundleError as e:
            raise KernelBundleError(f"kernel bundle {bundle_id[:19]}... is invalid: {e}") from e
        if manifest.kind != "kernel":
            raise KernelBundleError(f"bundle {bundle_id[:19]}... is a {manifest.kind!r} bundle, not a kernel bundle")
        if not manifest.entry_member.endswith("__init__.py"):
            raise KernelBundleError("a kernel bundle's entry must be a package (<name>/__init__.py)")
        root = manifest.entry_member[: -len("__init__.py")]
        package = private_package_name(bundle_id)
        finder = _BundleFinder(package, root, files, bundle_id)
        sys.meta_path.append(finder)
        try:
            mod = importlib.import_module(package)
        except BaseException as e:
            sys.meta_path.remove(finder)
            for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
                del sys.modules[name]
            raise KernelBundleError(f"kernel bundle {bundle_id[:19]}... failed to load: "
                                    f"{type(e).__name__}: {e}") from e
        _loaded[bundle_id] = mod
        return mod
