"""Export-data records, the export callback guard and durable export deltas."""

from __future__ import annotations

import json
import re

import pytest

from kernelhost.swingstore import SwingStoreError, dump, export_swingstore, open_swingstore
from kernelhost.swingstore.bundleformat import bundle_id_of


def run_blocks(store, make_vat_bundle, *, blocks=4, cranks=4, abort_every=3):
    """Blocks of cranks where every `abort_every`-th crank is rolled back,
    alternately to its start and to its "deliver" savepoint."""
    ks = store.kernel
    aborted_markers = []
    block_flushes = []
    n = 0
    for block in range(blocks):
        for _c in range(cranks):
            n += 1
            abort = n % abort_every == 0
            ks.start_crank()
            ks.kv.set("crankNumber", str(n))
            ks.establish_crank_savepoint("deliver")
            vat = f"v{n % 2 + 1}"
            if ks.transcripts.get_current_span_bounds(vat) is None:
                ks.transcripts.init_transcript(vat)
            marker = f"crank{n}"
            ks.kv.set(f"{vat}.vs.{marker}", marker)
            ks.kv.set("local.scratch", marker)
            ks.kv.delete(f"{vat}.vs.crank{n - 2}")
            ks.transcripts.add_item(vat, json.dumps({"d": ["message", marker]}))
            if n % 5 == 0:
                ks.transcripts.rollover_span(vat)
            if n % 7 == 0:
                ks.bundles.add_bundle(bundle_id_of(make_vat_bundle(marker)),
                                      make_vat_bundle(marker))
            if abort:
                aborted_markers.append(marker)
                ks.rollback_crank("start" if n % 2 else "deliver")
            ks.emit_crank_hashes()
            ks.end_crank()
        store.host.kv.set("host.height", str(block + 1))
        store.host.commit()
        block_flushes.append(store.host.get_export_deltas())
    return aborted_markers, block_flushes


def test_crank_abort_leaves_no_debris_in_export_log(store, recorder, make_vat_bundle, db_path):
    aborted, _ = run_blocks(store, make_vat_bundle)
    assert aborted == ["crank3", "crank6", "crank9", "crank12", "crank15"]
    export_data, _artifacts = export_swingstore(db_path)
    assert recorder.shadow() == dict(export_data)
    # Aborted cranks leave nothing: no value written by them, no key they
    # created (deleting a key that never existed still yields a None record).
    for marker in aborted:
        pattern = re.compile(re.escape(marker) + r"(?!\d)")
        assert not [r for r in recorder.records if r[1] and pattern.search(r[1])]
        assert not [r for r in recorder.records if r[1] is not None and pattern.search(r[0])]
        assert not [i for i in dump(store)["items"] if pattern.search(i[3])]
    # cranks 7 and 14 added bundles; neither was aborted
    bundle_keys = sorted(k for k in dict(export_data) if k.startswith("bundle."))
    assert len(bundle_keys) == 2
    assert not any(k.startswith(("kv.local.", "kv.host.")) for k, _ in recorder.records)
    # every batch is sorted by key, one record per key
    for batch in recorder.batches:
        keys = [k for k, _ in batch]
        assert keys == sorted(set(keys))


def test_export_deltas_are_each_blocks_records(store, recorder, make_vat_bundle):
    ks = store.kernel
    _aborted, per_block = run_blocks(store, make_vat_bundle, blocks=1)
    merged = {}
    for key, value in recorder.records:
        merged[key] = value
    assert per_block[0] == sorted(merged.items())
    recorder.batches.clear()
    ks.start_crank()
    ks.kv.set("only", "this")
    ks.kv.delete("crankNumber")
    ks.end_crank()
    # deltas of block 1 stay readable during block 2
    assert store.host.get_export_deltas() == per_block[0]
    store.host.commit()
    assert store.host.get_export_deltas() == [("kv.crankNumber", None), ("kv.only", "this")]


def test_export_deltas_durable_and_kept_on_abandoned_block(db_path, recorder_factory):
    rec = recorder_factory()
    s = open_swingstore(db_path, export_callback=rec)
    s.kernel.kv.set("a", "1")
    s.host.kv.set("host.height", "1")
    s.host.commit()
    s.kernel.kv.set("b", "2")
    s.close()  # crash-like: block 2 never committed
    s = open_swingstore(db_path, export_callback=recorder_factory())
    assert s.host.get_export_deltas() == [("kv.a", "1")]
    s.kernel.kv.set("c", "3")
    s.host.rollback()
    assert s.host.get_export_deltas() == [("kv.a", "1")]
    s.host.kv.set("host.height", "2")  # a block with no kernel changes
    s.host.commit()
    assert s.host.get_export_deltas() == []
    s.close()


def test_callback_refused_while_disallowed(store, recorder):
    ks = store.kernel
    store.host.set_export_callback_allowed(False)
    ks.start_crank()
    ks.kv.set("a", "1")
    with pytest.raises(SwingStoreError, match="export callback fired while disallowed"):
        ks.end_crank()
    assert recorder.batches == []
    with pytest.raises(SwingStoreError, match="disallowed"):
        ks.end_crank()
    store.host.set_export_callback_allowed(True)
    ks.end_crank()  # the records were not lost
    assert recorder.records == [("kv.a", "1")]
    store.host.set_export_callback_allowed(False)
    ks.kv.set("b", "2")
    with pytest.raises(SwingStoreError, match="disallowed"):
        store.host.commit()
    # non-consensus writes fire nothing, so they are fine while disallowed
    store.host.set_export_callback_allowed(True)
    store.host.commit()
    store.host.set_export_callback_allowed(False)
    ks.kv.set("local.x", "1")
    store.host.kv.set("host.y", "1")
    store.host.commit()


def test_no_callback_means_no_export_records(db_path):
    s = open_swingstore(db_path)
    s.kernel.kv.set("a", "1")
    s.host.commit()
    assert s.host.get_export_deltas() == []
    s.close()


def test_span_and_bundle_records(store, recorder, make_vat_bundle):
    ks = store.kernel
    ks.transcripts.init_transcript("v1")
    ks.transcripts.add_item("v1", "x")
    ks.transcripts.rollover_span("v1")
    data = make_vat_bundle()
    bid = bundle_id_of(data)
    ks.bundles.add_bundle(bid, data)
    store.host.commit()
    shadow = recorder.shadow()
    closed = json.loads(shadow["transcript.v1.0"])
    current = json.loads(shadow["transcript.v1.current"])
    assert closed == {"vatID": "v1", "startPos": 0, "endPos": 1, "hash": closed["hash"],
                      "isCurrent": False, "incarnation": 0}
    assert current["startPos"] == current["endPos"] == 1 and current["isCurrent"] is True
    assert shadow[f"bundle.{bid}"] == bid
    ks.bundles.delete_bundle(bid)
    ks.transcripts.stop_using_transcript("v1")
    store.host.commit()
    shadow = recorder.shadow()
    assert f"bundle.{bid}" not in shadow
    assert "transcript.v1.current" not in shadow
    assert json.loads(shadow["transcript.v1.1"])["isCurrent"] is False
