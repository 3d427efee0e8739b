"""State schema version check and migrations.

The kvStore key ``version`` holds the schema the state was written with. A
kernel runs only on its own `STATE_SCHEMA_VERSION`. If the stored version is
older and this bundle carries a migration step for it (`MIGRATIONS[old]`), the
kernel migrates at start, in its own crank (hashed like any crank, so every
node that upgrades at the same height ends with the same state). Otherwise it
refuses to start with a clear error: a new kernel bundle must ship the step.
"""

from __future__ import annotations

from .errors import KernelStateError
from .version import STATE_SCHEMA_VERSION

__all__ = ["check_schema", "MIGRATIONS"]

# old version -> function(kv) bringing the state to old + 1. Empty for schema 1.
MIGRATIONS: dict = {}


def check_schema(kernel) -> None:
    kv = kernel.kv
    raw = kv.get("version")
    if raw is None:
        raise KernelStateError("kernel state is not initialised (no 'version' key): run initialize_swingset first")
    try:
        found = int(raw)
    except ValueError:
        raise KernelStateError(f"kernel state has an unreadable schema version {raw!r}") from None
    if found == STATE_SCHEMA_VERSION:
        return
    if found > STATE_SCHEMA_VERSION:
        raise KernelStateError(
            f"kernel state schema version {found} is newer than this kernel supports "
            f"({STATE_SCHEMA_VERSION}); refusing to start")
    steps = []
    for v in range(found, STATE_SCHEMA_VERSION):
        step = MIGRATIONS.get(v)
        if step is None:
            raise KernelStateError(
                f"kernel state schema version {found} is older than this kernel's "
                f"({STATE_SCHEMA_VERSION}) and the kernel bundle has no migration from version {v}; "
                "refusing to start")
        steps.append((v, step))
    kv.begin()
    try:
        for v, step in steps:
            step(kv)
            kv.set("version", str(v + 1))
    except BaseException:
        kv.rollback(0)
        kv.end()
        raise
    kv.end()
    kv.flush(kernel.storage)
    kernel.note(f"migrated kernel state from schema {found} to {STATE_SCHEMA_VERSION}")
