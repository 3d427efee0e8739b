"""The swing-store export-data mirror (the chain's IAVL role).

Its hash is kept incrementally: NodeState.export_data_acc is the sum modulo 2**256 of
sha256(len(key):key:value) over all entries, so a record changes the hash by removing its
old entry's term and adding the new one, with no table scan. The sum does not depend on the
order or batching of records, only on the final table, which is what consensus needs.
"""

from __future__ import annotations

import hashlib

from kernelhost.chain.models import ExportDataEntry, NodeState

_MOD = 1 << 256


def _term(key: str, value: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{len(key)}:{key}:{value}".encode()).digest(), "big")


def apply_export_records(node: NodeState, records: list[tuple[str, str | None]]) -> int:
    """Apply (key, value|None) records in order; returns how many were applied."""
    if not records:
        return 0
    acc = int(node.export_data_acc, 16)
    merged: dict[str, str | None] = {}
    for key, value in records:
        merged[key] = value  # later wins, exactly as applying them one by one
    keys = sorted(merged)
    existing = dict(ExportDataEntry.objects.filter(key__in=keys).values_list("key", "value"))
    to_create, to_update, to_delete = [], [], []
    for key in keys:
        value = merged[key]
        old = existing.get(key)
        if old is not None:
            acc -= _term(key, old)
        if value is None:
            if old is not None:
                to_delete.append(key)
            continue
        acc += _term(key, value)
        if old is None:
            to_create.append(ExportDataEntry(key=key, value=value))
        elif old != value:
            to_update.append((key, value))
    if to_delete:
        ExportDataEntry.objects.filter(key__in=to_delete).delete()
    if to_create:
        ExportDataEntry.objects.bulk_create(to_create, batch_size=500)
    for key, value in to_update:
        ExportDataEntry.objects.filter(key=key).update(value=value)
    node.export_data_acc = format(acc % _MOD, "064x")
    node.save(update_fields=["export_data_acc"])
    return len(keys)
