"""Deterministic dump of a store's consensus state, for tests and debugging.

Two stores with the same consensus state (consensus kv, spans, items,
bundles) give equal dumps, whatever their history, export settings or host
keys.
"""

from __future__ import annotations

import hashlib

from .kvstore import HOST_PREFIX, LOCAL_PREFIX

SQL_DUMP_KV = "SELECT key, value FROM kvStore ORDER BY key"
SQL_DUMP_SPANS = (
    "SELECT vatID, startPos, endPos, hash, isCurrent, incarnation FROM transcriptSpans"
    " ORDER BY vatID, startPos"
)
SQL_DUMP_ITEMS = (
    "SELECT vatID, position, incarnation, item FROM transcriptItems ORDER BY vatID, position"
)
SQL_DUMP_BUNDLES = "SELECT bundleID, bundle FROM bundles ORDER BY bundleID"


def dump(store, *, include_local: bool = False, include_host: bool = False) -> dict:
    """{"kv": [[key, value]...], "spans": [{...}...], "items": [[vatID, pos,
    incarnation, item]...], "bundles": [bundleID...]} sorted throughout.
    Bundle bytes are checked against their IDs rather than listed."""
    conn = store._core.conn
    kv = []
    for key, value in conn.execute(SQL_DUMP_KV):
        if key.startswith(HOST_PREFIX) and not include_host:
            continue
        if key.startswith(LOCAL_PREFIX) and not include_local:
            continue
        kv.append([key, value])
    spans = [
        {"vatID": v, "startPos": s, "endPos": e, "hash": h, "isCurrent": bool(c),
         "incarnation": i}
        for v, s, e, h, c, i in conn.execute(SQL_DUMP_SPANS)
    ]
    items = [list(row) for row in conn.execute(SQL_DUMP_ITEMS)]
    bundles = []
    for bundle_id, data in conn.execute(SQL_DUMP_BUNDLES):
        actual = "b1-" + hashlib.sha512(data).hexdigest()
        bundles.append(bundle_id if actual == bundle_id else f"{bundle_id} (CORRUPT: {actual})")
    return {"kv": kv, "spans": spans, "items": items, "bundles": bundles}
