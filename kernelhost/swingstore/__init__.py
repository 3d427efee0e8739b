"""Swing-store: the node's SQLite store for all kernel state.

Modules: `store` (opening, facets, transactions, crank control, hashes),
`kvstore`, `transcripts`, `bundlestore`, `exportdata` (export records and
the callback flush), `statesync` (export/import), `bundleformat` (bundle
zips), `schema` (tables), `debug` (dump), `bench`. Standard library only.
"""

from .debug import dump
from .errors import BundleError, SwingStoreError, SwingStoreImportError
from .statesync import SwingStoreExporter, export_swingstore, import_swingstore
from .store import HostStorage, KernelStorage, SwingStore, open_swingstore

__all__ = [
    "BundleError",
    "HostStorage",
    "KernelStorage",
    "SwingStore",
    "SwingStoreError",
    "SwingStoreExporter",
    "SwingStoreImportError",
    "dump",
    "export_swingstore",
    "import_swingstore",
    "open_swingstore",
]
