"""Read-only access to the kernel's swing-store for console requests.

A store object belongs to the thread that opened it (sqlite3), so each request opens its
own read-only connection (cheap: no lock, no cache) and reads inside one
`read_transaction()`, which pins a single committed snapshot while the node keeps writing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from kernelhost.swingstore import SwingStoreError, open_swingstore


class NodeNotInitialised(LookupError):
    """There is no swing-store file yet (run `manage.py initnode`)."""


def swingstore_path() -> Path:
    return Path(settings.SWINGSTORE_PATH)


@contextmanager
def kernel_reader() -> Iterator:
    """`with kernel_reader() as store:` — one consistent snapshot of the committed state.
    Raises NodeNotInitialised when there is no store to read."""
    path = swingstore_path()
    if not path.is_file():
        raise NodeNotInitialised(f"no swing-store at {path}")
    try:
        store = open_swingstore(path, readonly=True)
    except SwingStoreError as exc:
        raise NodeNotInitialised(str(exc)) from exc
    try:
        with store.read_transaction():
            yield store
    finally:
        store.close()
