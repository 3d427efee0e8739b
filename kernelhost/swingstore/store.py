"""Opening a swing-store, its two facets, transactions and crank control.

One SQLite file holds all kernel state (layout: see `schema`). The writer
connection never autocommits: the first write after a commit opens
`BEGIN IMMEDIATE`, and the only `COMMIT` is `store.host.commit()`. Closing
without committing discards everything since the last commit, and so does a
crash (WAL + synchronous=FULL make each commit durable and atomic).

Only one writer may have a store open: the writer holds an exclusive
`flock` on `<path>.lock` (created next to the database, never deleted) from
open to close, and a second writer gets SwingStoreError("swing-store is
locked by another writer ..."). Read-only stores (`readonly=True`, for the web
console) take no lock and read the last committed state while the writer
works; `store.read_transaction()` pins one consistent snapshot for several
reads.

Facets:
- `store.kernel` (KernelStorage): kv (consensus + `local.` keys), transcripts,
  bundles, crank control, crank/activity hashes. It cannot commit.
- `store.host` (HostStorage): kv (`host.` keys only), commit(), rollback(),
  export-callback guard, export deltas of the last committed block.

Crank control: `start_crank()` opens SQL savepoint t0 (registered under the
name "start"); `establish_crank_savepoint(name)` opens t1, t2, ...;
`rollback_crank(name)` rolls back to that savepoint (keeping it, dropping
later ones) and restores the crank hasher copy taken there; `end_crank()`
flushes export records to the callback, then releases t0. Savepoints are
only ever opened inside the write transaction, so a RELEASE can never
autocommit.

Hashes (byte formats fixed for cross-checking): every consensus `set` feeds
"add\\n<key>\\n<value>\\n" and every consensus `delete` feeds
"delete\\n<key>\\n" into a SHA-256 crank hasher; `emit_crank_hashes()` returns
crankhash = hex digest and stores activityhash = sha256("activityhash\\n" +
old + "\\n" + crankhash + "\\n") under the consensus key `activityhash`
(itself not hashed, but exported). The hasher is reset at emit, at commit and
at rollback(): consensus writes not emitted before commit() are not folded
into the activity hash, so a restarted node computes the same hashes as one
that never stopped.

Export deltas: records flushed during a block accumulate in memory
(`core.block_deltas`); commit() replaces table `exportDeltas` with them in the
same transaction. `host.get_export_deltas()` therefore returns the records of the
last committed block from the moment commit() returns until the next
commit() (they are not cleared by the next block's writes, and a crash or
rollback of the next block leaves them as they were). A block whose commit
has no records leaves the list empty.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from . import schema
from .bundlestore import BundleStore
from .errors import SwingStoreError
from .exportdata import (
    SQL_DELTAS_ANY,
    SQL_DELTAS_INSERT,
    SQL_DELTAS_READ,
    SQL_DELTAS_REPLACE,
    ExportCallback,
    ExportRecord,
    flush_pending,
)
from .kvstore import SQL_KV_GET, SQL_KV_SET, HostKV, KernelKV
from .transcripts import TranscriptStore

START_SAVEPOINT = "start"
ACTIVITY_HASH_KEY = "activityhash"
_sha256 = hashlib.sha256


class _NullCache(dict):
    """Cache for read-only stores: another process writes, so never remember."""

    def __setitem__(self, key, value) -> None:
        pass


class _ClosedConnection:
    in_transaction = False

    def _closed(self, *args, **kwargs):
        raise SwingStoreError("swing-store is closed")

    execute = executemany = close = _closed


def _locked_error(path: object) -> SwingStoreError:
    return SwingStoreError(f"swing-store is locked by another writer ({path})")


class _Core:
    """State shared by the facets. Attributes are read directly on hot paths."""

    __slots__ = (
        "conn", "readonly", "path", "in_txn", "in_crank", "savepoints", "cache",
        "span_cache", "hasher", "activity", "exporting", "callback", "callback_allowed",
        "pending", "block_deltas", "lock_fd",
    )

    def __init__(self, conn: sqlite3.Connection, *, readonly: bool, path: str | None,
                 callback: ExportCallback | None, lock_fd: int | None) -> None:
        self.conn = conn
        self.readonly = readonly
        self.path = path
        self.in_txn = False
        self.in_crank = False
        # (name, crank hasher copy, export buffer copy) per open savepoint
        self.savepoints: list[tuple[str, object, dict]] = []
        self.cache: dict = _NullCache() if readonly else {}
        self.span_cache: dict = _NullCache() if readonly else {}
        self.hasher = _sha256()
        self.activity: str | None = None
        self.exporting = callback is not None
        self.callback = callback
        self.callback_allowed = True
        # Without a callback nobody consumes records: a sink dict, never read.
        self.pending: dict = {} if callback is not None else _NullCache()
        self.block_deltas: dict = {}
        self.lock_fd = lock_fd

    def begin(self) -> None:
        if self.readonly:
            raise SwingStoreError("swing-store is read-only")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise _locked_error(self.path) from None
            raise SwingStoreError(f"cannot begin a swing-store transaction: {e}") from e
        self.in_txn = True

    def invalidate_caches(self) -> None:
        self.cache.clear()
        self.span_cache.clear()
        self.activity = None

    def flush_exports(self) -> None:
        if self.exporting:
            flush_pending(self)

    def discard_uncommitted(self) -> None:
        """Forget in-memory state of a rolled-back transaction."""
        self.in_txn = False
        self.in_crank = False
        self.savepoints = []
        self.hasher = _sha256()
        if self.exporting:
            self.pending = {}
        self.block_deltas = {}
        self.invalidate_caches()


class KernelStorage:
    """The kernel's facet: kv, transcripts, bundles and crank control."""

    def __init__(self, core: _Core) -> None:
        self._core = core
        self.kv = KernelKV(core)
        self.transcripts = TranscriptStore(core)
        self.bundles = BundleStore(core)

    def start_crank(self) -> None:
        core = self._core
        if core.in_crank:
            raise SwingStoreError("start_crank() while already in a crank")
        if not core.in_txn:
            core.begin()
        core.conn.execute("SAVEPOINT t0")
        core.savepoints = [(START_SAVEPOINT, core.hasher.copy(), core.pending.copy())]
        core.in_crank = True

    def establish_crank_savepoint(self, name: str) -> None:
        core = self._core
        if not core.in_crank:
            raise SwingStoreError(f"establish_crank_savepoint({name!r}) outside a crank")
        for existing, _h, _p in core.savepoints:
            if existing == name:
                raise SwingStoreError(f"crank savepoint {name!r} already exists")
        core.conn.execute(f"SAVEPOINT t{len(core.savepoints)}")
        core.savepoints.append((name, core.hasher.copy(), core.pending.copy()))

    def rollback_crank(self, name: str = START_SAVEPOINT) -> None:
        """Undo everything since savepoint `name` ("start" = the whole crank):
        kv, transcripts, bundles, pending export records and the crank hasher.
        The crank stays open; `name` stays usable, later savepoints are gone."""
        core = self._core
        if not core.in_crank:
            raise SwingStoreError(f"rollback_crank({name!r}) outside a crank")
        index = next((i for i, sp in enumerate(core.savepoints) if sp[0] == name), None)
        if index is None:
            raise SwingStoreError(f"unknown crank savepoint {name!r}")
        _name, hasher, pending = core.savepoints[index]
        core.conn.execute(f"ROLLBACK TO SAVEPOINT t{index}")
        del core.savepoints[index + 1:]
        core.hasher = hasher.copy()
        if core.exporting:
            core.pending = pending.copy()
        core.invalidate_caches()

    def end_crank(self) -> None:
        core = self._core
        if not core.in_crank:
            raise SwingStoreError("end_crank() outside a crank")
        core.flush_exports()
        core.conn.execute("RELEASE SAVEPOINT t0")
        core.savepoints = []
        core.in_crank = False

    @property
    def in_crank(self) -> bool:
        return self._core.in_crank

    def emit_crank_hashes(self) -> tuple[str, str]:
        """Close the crank hash and fold it into the activity hash.
        Returns (crankhash, activityhash)."""
        core = self._core
        crankhash = core.hasher.hexdigest()
        old = self.get_activity_hash()
        new = _sha256(f"activityhash\n{old}\n{crankhash}\n".encode()).hexdigest()
        if not core.in_txn:
            core.begin()
        core.conn.execute(SQL_KV_SET, (ACTIVITY_HASH_KEY, new))
        core.cache[ACTIVITY_HASH_KEY] = new
        if core.exporting:
            core.pending["kv." + ACTIVITY_HASH_KEY] = new
        core.hasher = _sha256()
        core.activity = new
        return crankhash, new

    def get_activity_hash(self) -> str:
        core = self._core
        if core.activity is None or core.readonly:
            row = core.conn.execute(SQL_KV_GET, (ACTIVITY_HASH_KEY,)).fetchone()
            core.activity = row[0] if row is not None else ""
        return core.activity


class HostStorage:
    """The host's facet: `host.` keys, the commit point, export control."""

    def __init__(self, core: _Core) -> None:
        self._core = core
        self.kv = HostKV(core)

    def commit(self) -> None:
        """Flush export records, record this block's export deltas, COMMIT."""
        core = self._core
        if core.readonly:
            raise SwingStoreError("swing-store is read-only")
        if core.in_crank:
            raise SwingStoreError("commit() inside a crank; end_crank() first")
        if core.exporting and (
            core.in_txn or core.conn.execute(SQL_DELTAS_ANY).fetchone() is not None
        ):
            # An empty block still replaces the previous block's deltas.
            if not core.in_txn:
                core.begin()
            core.flush_exports()
            core.conn.execute(SQL_DELTAS_REPLACE)
            core.conn.executemany(SQL_DELTAS_INSERT, sorted(core.block_deltas.items()))
        if core.in_txn:
            try:
                core.conn.execute("COMMIT")
            except sqlite3.Error as e:
                raise SwingStoreError(f"swing-store commit failed: {e}") from e
            core.in_txn = False
        core.block_deltas = {}
        core.hasher = _sha256()

    def rollback(self) -> None:
        """Discard everything since the last commit (like close + reopen)."""
        core = self._core
        if core.in_txn:
            core.conn.execute("ROLLBACK")
        core.discard_uncommitted()

    def set_export_callback_allowed(self, allowed: bool) -> None:
        self._core.callback_allowed = bool(allowed)

    def get_export_deltas(self) -> list[ExportRecord]:
        """Export records of the last committed block, sorted by key, one
        final value per key (None = deleted)."""
        return self._core.conn.execute(SQL_DELTAS_READ).fetchall()

    @property
    def in_transaction(self) -> bool:
        return self._core.in_txn


class SwingStoreDebug:
    def __init__(self, store: SwingStore) -> None:
        self._store = store

    def dump(self, *, include_local: bool = False, include_host: bool = False) -> dict:
        from .debug import dump

        return dump(self._store, include_local=include_local, include_host=include_host)

    def serialize(self) -> bytes:
        """The database bytes including uncommitted work (clone for tests)."""
        core = self._store._core
        if core.in_crank:
            raise SwingStoreError("cannot serialize inside a crank")
        return core.conn.serialize()


class SwingStore:
    def __init__(self, core: _Core) -> None:
        self._core = core
        self.kernel = KernelStorage(core)
        self.host = HostStorage(core)
        self.debug = SwingStoreDebug(self)

    @property
    def path(self) -> str | None:
        return self._core.path

    @property
    def readonly(self) -> bool:
        return self._core.readonly

    @property
    def closed(self) -> bool:
        return isinstance(self._core.conn, _ClosedConnection)

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        """Read-only stores: all reads inside see one committed snapshot.
        (The writer always sees its own latest state; this is a no-op there.)"""
        core = self._core
        if not core.readonly or core.conn.in_transaction:
            yield
            return
        core.conn.execute("BEGIN DEFERRED")
        try:
            # A deferred transaction picks its snapshot at the first read; read
            # now so the snapshot is the one current when the block is entered.
            core.conn.execute("SELECT 1 FROM kvStore LIMIT 1").fetchall()
            yield
        finally:
            core.conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close, discarding anything not committed."""
        core = self._core
        if self.closed:
            return
        conn = core.conn
        core.conn = _ClosedConnection()
        try:
            if core.in_txn:
                conn.execute("ROLLBACK")
        finally:
            core.discard_uncommitted()
            conn.close()
            if core.lock_fd is not None:
                os.close(core.lock_fd)  # closing the descriptor drops the flock
                core.lock_fd = None

    def __enter__(self) -> SwingStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _take_writer_lock(db_path: Path) -> int:
    fd = os.open(str(db_path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _locked_error(db_path) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_swingstore(
    path: str | os.PathLike | None,
    *,
    readonly: bool = False,
    export_callback: ExportCallback | None = None,
    serialized: bytes | None = None,
) -> SwingStore:
    """Open (creating if missing) the swing-store at `path`; None = in memory.

    `export_callback(records)` receives lists of (key, value|None) export
    records at every end_crank() and commit(); without it no export records
    or export deltas are kept. `serialized` (in-memory only) starts from the
    bytes of `store.debug.serialize()`.
    """
    if path is None:
        if readonly:
            raise SwingStoreError("an in-memory swing-store cannot be read-only")
        conn = schema.connect(":memory:")
        try:
            if serialized is not None:
                conn.deserialize(serialized)
            schema.setup_writer(conn, on_disk=False)
        except BaseException:
            conn.close()
            raise
        return SwingStore(_Core(conn, readonly=False, path=None, callback=export_callback,
                                lock_fd=None))
    if serialized is not None:
        raise SwingStoreError("serialized= is only for in-memory stores")
    db_path = Path(path)
    if readonly:
        if export_callback is not None:
            raise SwingStoreError("a read-only swing-store has no export callback")
        if not db_path.is_file():
            raise SwingStoreError(f"no swing-store at {str(db_path)!r}")
        conn = schema.connect(f"file:{quote(str(db_path.resolve()))}?mode=ro", uri=True)
        try:
            schema.setup_reader(conn)
        except sqlite3.DatabaseError as e:
            conn.close()
            raise SwingStoreError(f"cannot read swing-store {str(db_path)!r}: {e}") from e
        except BaseException:
            conn.close()
            raise
        return SwingStore(_Core(conn, readonly=True, path=str(db_path), callback=None,
                                lock_fd=None))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = _take_writer_lock(db_path)
    try:
        conn = schema.connect(str(db_path))
    except BaseException:
        os.close(lock_fd)
        raise
    try:
        schema.setup_writer(conn, on_disk=True)
    except sqlite3.OperationalError as e:
        conn.close()
        os.close(lock_fd)
        if "locked" in str(e) or "busy" in str(e):
            raise _locked_error(db_path) from None
        raise SwingStoreError(f"cannot open swing-store {str(db_path)!r}: {e}") from e
    except sqlite3.DatabaseError as e:
        conn.close()
        os.close(lock_fd)
        raise SwingStoreError(f"cannot open swing-store {str(db_path)!r}: {e}") from e
    except BaseException:
        conn.close()
        os.close(lock_fd)
        raise
    return SwingStore(_Core(conn, readonly=False, path=str(db_path), callback=export_callback,
                            lock_fd=lock_fd))
