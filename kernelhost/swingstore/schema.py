"""SQL schema of the swing-store file, and connection setup.

Tables (all in one SQLite file, so one transaction covers everything):

    kvStore(key TEXT PRIMARY KEY, value TEXT)          -- WITHOUT ROWID
    transcriptSpans(vatID, startPos, endPos, hash, isCurrent CHECK (=1 or NULL),
                    incarnation)  PK (vatID, startPos), UNIQUE (vatID, isCurrent)
    transcriptItems(vatID, position, item, incarnation)  PK (vatID, position)
    bundles(bundleID TEXT PRIMARY KEY, bundle BLOB)
    exportDeltas(key PRIMARY KEY, value)       -- export records of the last committed block

`PRAGMA application_id` marks the file as a swing-store and `PRAGMA
user_version` holds `SCHEMA_VERSION`; opening anything else is refused.
"""

from __future__ import annotations

import sqlite3

from .errors import SwingStoreError

SCHEMA_VERSION = 1
# "KCSS": Kernel Console Swing-Store; lets us refuse arbitrary SQLite files.
APPLICATION_ID = 0x4B435353

BUSY_TIMEOUT_MS = 5000

_TABLES = (
    "CREATE TABLE kvStore (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE transcriptSpans ("
    " vatID TEXT NOT NULL, startPos INTEGER NOT NULL, endPos INTEGER NOT NULL,"
    " hash TEXT NOT NULL, isCurrent INTEGER CHECK (isCurrent = 1),"
    " incarnation INTEGER NOT NULL,"
    " PRIMARY KEY (vatID, startPos), UNIQUE (vatID, isCurrent))",
    # Items can be kilobytes, so keep them in a rowid table (WITHOUT ROWID
    # tables are slow for large rows).
    "CREATE TABLE transcriptItems ("
    " vatID TEXT NOT NULL, position INTEGER NOT NULL, item TEXT NOT NULL,"
    " incarnation INTEGER NOT NULL, PRIMARY KEY (vatID, position))",
    "CREATE TABLE bundles (bundleID TEXT PRIMARY KEY, bundle BLOB NOT NULL)",
    "CREATE TABLE exportDeltas (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID",
)


def connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    # isolation_level=None: the sqlite3 module must never open or commit
    # transactions behind our back; every BEGIN/COMMIT is ours.
    conn = sqlite3.connect(
        target, isolation_level=None, uri=uri, cached_statements=512,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def setup_writer(conn: sqlite3.Connection, *, on_disk: bool) -> None:
    """Create the schema if the database is empty, check it otherwise, and
    set the durability pragmas. Schema creation is committed at once: an
    empty store holds no kernel state, so this is not a consensus commit."""
    if on_disk:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise SwingStoreError(f"could not switch swing-store to WAL mode (got {mode!r})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _is_empty(conn):
            create_schema(conn)
        else:
            check_schema(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def create_schema(conn: sqlite3.Connection) -> None:
    """Create all tables and mark the file (caller owns the transaction)."""
    for ddl in _TABLES:
        conn.execute(ddl)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def setup_reader(conn: sqlite3.Connection) -> None:
    check_schema(conn)


def check_schema(conn: sqlite3.Connection) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id != APPLICATION_ID:
        raise SwingStoreError("file is not a swing-store (wrong SQLite application_id)")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        raise SwingStoreError(
            f"swing-store schema version {version} is not supported (expected {SCHEMA_VERSION})"
        )


def _is_empty(conn: sqlite3.Connection) -> bool:
    n = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    return n == 0 and conn.execute("PRAGMA application_id").fetchone()[0] == 0
