"""The kvStore: string keys to string values, ordered by key.

Key namespaces:

    local.*   non-consensus: written by the kernel, never hashed or exported
    host.*    host-only: reachable through `store.host.kv`; the kernel facet raises
    other     consensus: every set/delete feeds the crank hash and yields an
              export record `kv.<key>`

Order is SQLite's BINARY collation on UTF-8, which equals Python's str order.
The writer keeps a write-through read cache (`core.cache`, key -> value, for
keys that exist: deleted keys and misses are not remembered, so the cache holds
live state only); it is cleared on every rollback, and it is safe because the
writer holds the only write lock. Read-only stores do not cache:
another process changes the data under them.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import SwingStoreError

SQL_KV_GET = "SELECT value FROM kvStore WHERE key = ?"
SQL_KV_SET = (
    "INSERT INTO kvStore (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
SQL_KV_DELETE = "DELETE FROM kvStore WHERE key = ?"
SQL_KV_NEXT = "SELECT key FROM kvStore WHERE key > ? ORDER BY key LIMIT 1"
SQL_KV_NEXT_BOUNDED = (
    "SELECT key FROM kvStore WHERE key > ? AND key < ? ORDER BY key LIMIT 1"
)
SQL_KV_NEXT_FROM = "SELECT key FROM kvStore WHERE key >= ? ORDER BY key LIMIT 1"
SQL_KV_RANGE = (
    "SELECT key, value FROM kvStore WHERE key > ? AND key < ? ORDER BY key LIMIT ?"
)
SQL_KV_RANGE_OPEN = "SELECT key, value FROM kvStore WHERE key > ? ORDER BY key LIMIT ?"
SQL_KV_RANGE_FROM = (
    "SELECT key, value FROM kvStore WHERE key >= ? AND key < ? ORDER BY key LIMIT ?"
)
SQL_KV_RANGE_OPEN_FROM = "SELECT key, value FROM kvStore WHERE key >= ? ORDER BY key LIMIT ?"
SQL_KV_FIRST_IN = (
    "SELECT key FROM kvStore WHERE key >= ? AND key < ? ORDER BY key LIMIT 1"
)

HOST_PREFIX = "host."
LOCAL_PREFIX = "local."
# "/" follows "." in code point order: every "host.*" key is < "host/".
_AFTER_HOST = "host/"
_NON_CONSENSUS = (HOST_PREFIX, LOCAL_PREFIX)
_PAGE = 256
_CACHE_MAX = 200_000
_MISSING = object()


def is_consensus_key(key: str) -> bool:
    return not key.startswith(_NON_CONSENSUS)


def prefix_upper_bound(prefix: str) -> str | None:
    """Smallest string greater than every string starting with `prefix`."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be stored as UTF-8
                nxt = 0xE000
            return prefix[:-1] + chr(nxt)
        prefix = prefix[:-1]
    return None


def _bad_key(key: object) -> SwingStoreError:
    return SwingStoreError(f"kvStore key must be a non-empty str, not {key!r}")


def _bad_value(key: str, value: object) -> SwingStoreError:
    return SwingStoreError(f"kvStore value for {key!r} must be a str, not {type(value).__name__}")


def _host_key_refused(key: str) -> SwingStoreError:
    return SwingStoreError(f"kernel storage may not access host key {key!r}")


class _KVBase:
    __slots__ = ("_core",)

    def __init__(self, core) -> None:
        self._core = core

    def _get(self, key: str) -> str | None:
        core = self._core
        cache = core.cache
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            row = core.conn.execute(SQL_KV_GET, (key,)).fetchone()
            if row is None:
                # Not cached: most misses are the kernel checking a key it is about to create
                # or has created and deleted within a block; remembering each one made the
                # cache grow with every block (the kernel caches its own misses).
                return None
            value = row[0]
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[key] = value
        return value

    def _range(self, prefix: str) -> Iterator[tuple[str, str]]:
        # Paged so that callers may write (e.g. delete a subtree) while iterating.
        conn = self._core.conn
        high = prefix_upper_bound(prefix)
        if high is None:
            rows = conn.execute(SQL_KV_RANGE_OPEN_FROM, (prefix, _PAGE)).fetchall()
        else:
            rows = conn.execute(SQL_KV_RANGE_FROM, (prefix, high, _PAGE)).fetchall()
        while True:
            yield from rows
            if len(rows) < _PAGE:
                return
            low = rows[-1][0]
            if high is None:
                rows = conn.execute(SQL_KV_RANGE_OPEN, (low, _PAGE)).fetchall()
            else:
                rows = conn.execute(SQL_KV_RANGE, (low, high, _PAGE)).fetchall()


class KernelKV(_KVBase):
    """kvStore as the kernel sees it: consensus and `local.` keys only."""

    __slots__ = ()

    def get(self, key: str) -> str | None:
        if type(key) is not str or not key:
            raise _bad_key(key)
        if key.startswith(HOST_PREFIX):
            raise _host_key_refused(key)
        return self._get(key)

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def set(self, key: str, value: str) -> None:
        if type(key) is not str or not key:
            raise _bad_key(key)
        if type(value) is not str:
            raise _bad_value(key, value)
        consensus = not key.startswith(_NON_CONSENSUS)
        if not consensus and key.startswith(HOST_PREFIX):
            raise _host_key_refused(key)
        core = self._core
        if not core.in_txn:
            core.begin()
        cache = core.cache
        # The cache is exact for the writer, so an unchanged value needs no
        # SQL write; hashing and export still see every set.
        if cache.get(key, _MISSING) != value:
            core.conn.execute(SQL_KV_SET, (key, value))
            cache[key] = value
        if consensus:
            core.hasher.update(("add\n" + key + "\n" + value + "\n").encode())
            if core.exporting:
                core.pending["kv." + key] = value

    def delete(self, key: str) -> None:
        if type(key) is not str or not key:
            raise _bad_key(key)
        core = self._core
        if key.startswith(HOST_PREFIX):
            raise _host_key_refused(key)
        if not core.in_txn:
            core.begin()
        core.cache.pop(key, None)  # deleted keys are not remembered (see _get)
        core.conn.execute(SQL_KV_DELETE, (key,))
        if not key.startswith(LOCAL_PREFIX):
            core.hasher.update(("delete\n" + key + "\n").encode())
            if core.exporting:
                core.pending["kv." + key] = None

    def get_next_key(self, prev: str) -> str | None:
        """The smallest key strictly greater than `prev` (host keys skipped)."""
        if type(prev) is not str:
            raise _bad_key(prev)
        conn = self._core.conn
        row = conn.execute(SQL_KV_NEXT, (prev,)).fetchone()
        if row is not None and row[0].startswith(HOST_PREFIX):
            row = conn.execute(SQL_KV_NEXT_FROM, (_AFTER_HOST,)).fetchone()
        return row[0] if row is not None else None

    def iter_prefix(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(key, value) for every key starting with `prefix`, sorted by key."""
        if type(prefix) is not str:
            raise _bad_key(prefix)
        if prefix.startswith(HOST_PREFIX):
            raise _host_key_refused(prefix)
        for key, value in self._range(prefix):
            if not key.startswith(HOST_PREFIX):
                yield key, value


class HostKV(_KVBase):
    """kvStore as the host sees it: `host.` keys only, never hashed or exported."""

    __slots__ = ()

    @staticmethod
    def _check(key: object) -> str:
        if type(key) is not str or not key:
            raise _bad_key(key)
        if not key.startswith(HOST_PREFIX):
            raise SwingStoreError(f"host storage may only use 'host.' keys, not {key!r}")
        return key

    def get(self, key: str) -> str | None:
        return self._get(self._check(key))

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def set(self, key: str, value: str) -> None:
        self._check(key)
        if type(value) is not str:
            raise _bad_value(key, value)
        core = self._core
        if not core.in_txn:
            core.begin()
        core.conn.execute(SQL_KV_SET, (key, value))
        core.cache[key] = value

    def delete(self, key: str) -> None:
        self._check(key)
        core = self._core
        if not core.in_txn:
            core.begin()
        core.conn.execute(SQL_KV_DELETE, (key,))
        core.cache.pop(key, None)

    def get_next_key(self, prev: str) -> str | None:
        if type(prev) is not str:
            raise _bad_key(prev)
        conn = self._core.conn
        if prev < HOST_PREFIX:
            row = conn.execute(SQL_KV_FIRST_IN, (HOST_PREFIX, _AFTER_HOST)).fetchone()
        else:
            row = conn.execute(SQL_KV_NEXT_BOUNDED, (prev, _AFTER_HOST)).fetchone()
        return row[0] if row is not None else None

    def iter_prefix(self, prefix: str = HOST_PREFIX) -> Iterator[tuple[str, str]]:
        if type(prefix) is not str or not prefix.startswith(HOST_PREFIX):
            raise SwingStoreError(f"host storage may only scan 'host.' prefixes, not {prefix!r}")
        return self._range(prefix)
