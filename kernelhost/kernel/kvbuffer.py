"""The kernel's write buffer over the swing-store: crank atomicity in memory.

Why: a crank typically writes the same key several times (run-queue pointers,
refcounts), and most of what a message creates is gone a few cranks later (the
result promise, its c-list entries, the queue entry). Writing every change to
SQLite as it happens costs more than the rest of the kernel together. So the
kernel keeps a *flush unit* of consecutive cranks in memory and writes only the
net change of the unit to the store, in one store crank, followed by one
``emit_crank_hashes()``:

- reads see the buffer first, then the store (which holds the state as of the
  last flush);
- each crank opens an in-memory savepoint (an undo log); more can be nested
  (``deliver``). Rolling back restores the buffer exactly as it was at the
  savepoint, including pending transcript operations. This is what SwingSet
  does with SQL savepoints, without the SQL;
- `flush` writes, for every key touched in the unit, the final value if it
  differs from the store's value before the unit (deleting an absent key, or
  re-setting an unchanged value, is skipped; a value the buffer does not know
  is read from the store, never assumed), then the pending transcript
  operations in order.

Determinism: flush points are fixed by the kernel (end of every run()/step(),
every N cranks, after each host call), the write order is the order in which
keys were first touched in the unit, and skipping depends only on the
store's state (never on this process's read cache, which a restart empties);
so every node, restarted or not, writes the same statements and computes the
same activity hash. The crank hash therefore covers a flush unit
rather than a single crank.
"""

from __future__ import annotations

from .jsonfast import dumps as _dumps

__all__ = ["BufferedKV"]


_UNKNOWN = object()  # value not known to the buffer: the store has it
_CLEAN = object()    # key not dirty in this unit
_CACHE_LIMIT = 250_000


class BufferedKV:
    __slots__ = ("_kv", "_cache", "_dirty", "_undo", "_ops", "_ops_marks")

    def __init__(self, kv):
        self._kv = kv
        self._cache: dict = {}   # key -> value | None (absent), as the kernel sees it now
        self._dirty: dict = {}   # key -> value before the unit (or _UNKNOWN); insertion-ordered
        self._undo: list = []    # savepoint stack of {key: (cache value, dirty entry) before}
        self._ops: list = []     # pending store operations (transcripts), in order
        self._ops_marks: list = []

    # ------------------------------------------------------------------ reads
    def get(self, key: str):
        try:
            return self._cache[key]
        except KeyError:
            v = self._cache[key] = self._kv.get(key)
            return v

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    # ------------------------------------------------------------------ writes
    # Values are str. A JSON-able dict may also be stored (run-queue items, which
    # usually live and die inside one flush unit): it is serialised only if it
    # reaches the store, and `get` returns it as stored (str or dict), so only code
    # that stores dicts under a key may read that key. Never mutate a stored dict.
    def set(self, key: str, value: str) -> None:
        cache = self._cache
        dirty = self._dirty
        if self._undo:
            u = self._undo[-1]
            if key not in u:
                u[key] = (cache.get(key, _UNKNOWN), dirty.get(key, _CLEAN))
        if key not in dirty:
            dirty[key] = cache.get(key, _UNKNOWN)
        cache[key] = value

    def create(self, key: str, value: str) -> None:
        """Set a key the kernel knows did not exist (a freshly allocated ID): if it is
        deleted again before the flush, nothing reaches the store."""
        cache = self._cache
        dirty = self._dirty
        if self._undo:
            u = self._undo[-1]
            if key not in u:
                u[key] = (cache.get(key, _UNKNOWN), dirty.get(key, _CLEAN))
        if key not in dirty:
            dirty[key] = None
        cache[key] = value

    def delete(self, key: str) -> None:
        cache = self._cache
        dirty = self._dirty
        if self._undo:
            u = self._undo[-1]
            if key not in u:
                u[key] = (cache.get(key, _UNKNOWN), dirty.get(key, _CLEAN))
        if key not in dirty:
            dirty[key] = cache.get(key, _UNKNOWN)
        cache[key] = None

    def forget_absent(self, key: str) -> None:
        """Drop a key from the cache if it is known absent in the store (a field of an ID
        that is gone for good), so dead IDs do not stay in the cache as None entries."""
        cache = self._cache
        if key in cache and cache[key] is None and key not in self._dirty:
            del cache[key]

    def absent(self, key: str) -> None:
        """Tell the cache a key does not exist in the store (fields of a freshly
        allocated ID), saving a store lookup that would find nothing."""
        if key not in self._cache:
            self._cache[key] = None

    def created_in_unit(self, key: str) -> bool:
        """True if `key` did not exist before this flush unit (so nothing in the store
        can refer to what it names)."""
        return self._dirty.get(key, _CLEAN) is None

    def add_op(self, *op) -> None:
        """Queue a store operation for the flush, e.g. ("add_item", vat_id, entry)."""
        self._ops.append(op)

    def pending_ops(self) -> list:
        return self._ops

    # ------------------------------------------------------------------ savepoints
    def begin(self) -> None:
        """Open the crank's first savepoint."""
        self._undo = [{}]
        self._ops_marks = [len(self._ops)]

    def savepoint(self) -> int:
        self._undo.append({})
        self._ops_marks.append(len(self._ops))
        return len(self._undo) - 1

    def rollback(self, index: int = 0) -> None:
        """Undo everything since savepoint `index` (0 = crank start); it stays open."""
        cache = self._cache
        dirty = self._dirty
        undo = self._undo
        for u in reversed(undo[index:]):
            for key, (value, was) in u.items():
                if value is _UNKNOWN:
                    cache.pop(key, None)
                else:
                    cache[key] = value
                if was is _CLEAN:
                    dirty.pop(key, None)
                else:
                    dirty[key] = was
        del undo[index + 1:]
        undo[index] = {}
        del self._ops[self._ops_marks[index]:]
        del self._ops_marks[index + 1:]

    def end(self) -> None:
        """The crank is done: keep its changes (until the flush)."""
        self._undo = []
        self._ops_marks = []

    @property
    def in_crank(self) -> bool:
        return bool(self._undo)

    # ------------------------------------------------------------------ flush
    @property
    def pending(self) -> int:
        return len(self._dirty) + len(self._ops)

    def flush(self, storage) -> bool:
        """Write the unit's net changes and pending operations to `storage` in one store
        crank and emit crank hashes. Returns False if there was nothing to write."""
        if self._undo:
            raise AssertionError("flush inside a crank")
        dirty = self._dirty
        ops = self._ops
        if not dirty and not ops:
            return False
        cache = self._cache
        kv = self._kv
        storage.start_crank()
        for key, before in dirty.items():
            value = cache[key]
            if value is not None and type(value) is not str:
                value = _dumps(value)  # a structured value kept unserialised until now (run-queue items)
            if before is _UNKNOWN:
                # Not known to the buffer: ask the store. The skip decision must depend only on
                # the store's state, never on what this process happens to have cached (a warm
                # kernel and a freshly restarted one must write the same statements).
                before = kv.get(key)
            elif before is not None and type(before) is not str:
                before = _dumps(before)
            if value is None:
                # Deleted keys (promises, run-queue items, c-list entries) are almost never read
                # again: kept as None entries they made the cache grow with every block.
                del cache[key]
                if before is not None:
                    kv.delete(key)
            elif value != before:
                kv.set(key, value)
        transcripts = storage.transcripts
        for op in ops:
            getattr(transcripts, op[0])(*op[1:])
        storage.emit_crank_hashes()
        storage.end_crank()
        dirty.clear()
        ops.clear()
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        return True

    def discard(self) -> None:
        """Forget everything buffered and cached (the store was rolled back)."""
        self._dirty.clear()
        self._cache.clear()
        self._undo = []
        self._ops.clear()
        self._ops_marks = []

    # ------------------------------------------------------------------ ordered reads (store + buffer)
    def get_next_key(self, prev: str):
        """Smallest key > prev, as the kernel sees the state now."""
        cache = self._cache
        dirty = self._dirty
        kv = self._kv
        k = kv.get_next_key(prev)
        while k is not None and k in dirty and cache[k] is None:
            k = kv.get_next_key(k)
        best = k
        for dk in dirty:
            if dk > prev and (best is None or dk < best) and cache[dk] is not None:
                best = dk
        return best

    def iter_prefix(self, prefix: str) -> list:
        """Sorted (key, value) pairs with `prefix`, as the kernel sees the state now."""
        merged = dict(self._kv.iter_prefix(prefix))
        cache = self._cache
        for dk in self._dirty:
            if dk.startswith(prefix):
                v = cache[dk]
                if v is None:
                    merged.pop(dk, None)
                else:
                    merged[dk] = v
        return sorted(merged.items())
