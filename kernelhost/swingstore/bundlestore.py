"""Bundle store: content-addressed bundles in table `bundles(bundleID, bundle)`.

IDs are `b1-` + SHA-512 hex of the zip bytes (see `bundleformat`). Adding
checks the ID against the bytes and the bundle's safety limits; adding a bundle
that is already present is a no-op. Every add/delete yields the export record
`bundle.<id>` (value: the ID, or None when deleted).
"""

from __future__ import annotations

from .bundleformat import is_bundle_id, validate_bundle
from .errors import SwingStoreError
from .exportdata import bundle_key

SQL_BUNDLE_GET = "SELECT bundle FROM bundles WHERE bundleID = ?"
SQL_BUNDLE_HAS = "SELECT 1 FROM bundles WHERE bundleID = ?"
SQL_BUNDLE_INSERT = "INSERT INTO bundles (bundleID, bundle) VALUES (?, ?)"
SQL_BUNDLE_DELETE = "DELETE FROM bundles WHERE bundleID = ?"
SQL_BUNDLE_IDS = "SELECT bundleID FROM bundles ORDER BY bundleID"


class BundleStore:
    __slots__ = ("_core",)

    def __init__(self, core) -> None:
        self._core = core

    def add_bundle(self, bundle_id: str, data: bytes) -> None:
        """Store `data` under `bundle_id` after validating both (raises
        BundleError). Adding a present bundle again is a no-op."""
        validate_bundle(data, bundle_id)
        core = self._core
        if self.has_bundle(bundle_id):
            return
        if not core.in_txn:
            core.begin()
        core.conn.execute(SQL_BUNDLE_INSERT, (bundle_id, bytes(data)))
        if core.exporting:
            core.pending[bundle_key(bundle_id)] = bundle_id

    def has_bundle(self, bundle_id: str) -> bool:
        return self._core.conn.execute(SQL_BUNDLE_HAS, (bundle_id,)).fetchone() is not None

    def get_bundle(self, bundle_id: str) -> bytes:
        row = self._core.conn.execute(SQL_BUNDLE_GET, (bundle_id,)).fetchone()
        if row is None:
            raise SwingStoreError(f"bundle {bundle_id!r} is not in the store")
        return row[0]

    def delete_bundle(self, bundle_id: str) -> bool:
        """Remove a bundle; returns whether it was present."""
        if not is_bundle_id(bundle_id):
            raise SwingStoreError(f"malformed bundle ID {bundle_id!r}")
        core = self._core
        if not self.has_bundle(bundle_id):
            return False
        if not core.in_txn:
            core.begin()
        core.conn.execute(SQL_BUNDLE_DELETE, (bundle_id,))
        if core.exporting:
            core.pending[bundle_key(bundle_id)] = None
        return True

    def list_bundle_ids(self) -> list[str]:
        return [r[0] for r in self._core.conn.execute(SQL_BUNDLE_IDS)]
