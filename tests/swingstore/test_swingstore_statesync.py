"""State-sync export and import."""

from __future__ import annotations

import json

import pytest

from kernelhost.swingstore import (
    SwingStoreError,
    SwingStoreExporter,
    SwingStoreImportError,
    dump,
    export_swingstore,
    import_swingstore,
    open_swingstore,
)
from kernelhost.swingstore.bundleformat import bundle_id_of


@pytest.fixture
def source(tmp_path, make_vat_bundle, recorder_factory):
    """A committed store with two vats (several spans, two incarnations),
    two bundles, consensus, local and host keys, plus uncommitted junk."""
    path = tmp_path / "source.sqlite"
    rec = recorder_factory()
    s = open_swingstore(path, export_callback=rec)
    ks = s.kernel
    for vat in ("v1", "v2"):
        ks.transcripts.init_transcript(vat)
    for n in range(1, 23):
        ks.start_crank()
        vat = "v1" if n % 3 else "v2"
        ks.kv.set("crankNumber", str(n))
        ks.kv.set(f"{vat}.vs.count", str(n))
        ks.kv.set("local.kernelStats", str(n))
        ks.transcripts.add_item(vat, json.dumps({"d": ["message", n], "sc": []}))
        if n % 4 == 0:
            ks.transcripts.rollover_span(vat)
        if n == 10:
            ks.transcripts.rollover_incarnation("v1")
        ks.emit_crank_hashes()
        ks.end_crank()
    for marker in ("a", "b"):
        data = make_vat_bundle(marker)
        ks.bundles.add_bundle(bundle_id_of(data), data)
    s.host.kv.set("host.height", "5")
    s.host.commit()
    committed = dump(s)
    activity = ks.get_activity_hash()
    ks.kv.set("uncommitted", "x")  # must not be exported
    ks.transcripts.add_item("v1", "uncommitted item")
    yield path, s, committed, activity, rec
    s.close()


def test_round_trip_equal_dump_and_activity_hash(source, tmp_path):
    path, _writer, committed, activity, rec = source
    export_data, artifacts = export_swingstore(path)  # while the writer is open
    assert export_data == sorted(export_data)
    assert dict(export_data) == rec.shadow()
    assert not any(k.startswith(("kv.host.", "kv.local.")) for k, _ in export_data)
    names = sorted(artifacts)
    assert sum(n.startswith("bundle.") for n in names) == 2
    assert "transcript.v1.0.3" in names and "transcript.v1.7.11" in names

    target = tmp_path / "imported.sqlite"
    import_swingstore(target, export_data, artifacts)
    s = open_swingstore(target)
    assert dump(s) == committed
    assert s.kernel.get_activity_hash() == activity
    assert s.host.kv.get("host.height") is None  # host keys are the host's job
    assert s.kernel.kv.get("local.kernelStats") is None
    # the imported store keeps working: spans continue where they were
    bounds = s.kernel.transcripts.get_current_span_bounds("v1")
    assert s.kernel.transcripts.add_item("v1", "next") == bounds["endPos"]
    assert s.kernel.transcripts.list_spans("v1")[-1]["incarnation"] == 1
    s.close()


def test_import_from_exporter_object(source, tmp_path):
    path, _w, committed, _a, _r = source
    with SwingStoreExporter(path) as exporter:
        target = tmp_path / "imported.sqlite"
        import_swingstore(target, exporter.get_export_data(), exporter)
    s = open_swingstore(target, readonly=True)
    assert dump(s) == committed
    s.close()


def test_operational_mode_only_current_spans(source, tmp_path):
    path, _w, committed, activity, _r = source
    export_data, artifacts = export_swingstore(path, artifact_mode="operational")
    span_names = sorted(n for n in artifacts if n.startswith("transcript."))
    current = {k: json.loads(v) for k, v in export_data if k.endswith(".current")}
    assert span_names == sorted(
        f"transcript.{r['vatID']}.{r['startPos']}.{r['endPos']}" for r in current.values())
    with pytest.raises(SwingStoreImportError, match=r"missing artifact 'transcript\.v1\.0\.3' \(archival import\)"):
        import_swingstore(tmp_path / "arch.sqlite", export_data, artifacts)
    target = tmp_path / "op.sqlite"
    import_swingstore(target, export_data, artifacts, artifact_mode="operational")
    s = open_swingstore(target)
    got = dump(s)
    assert got["kv"] == committed["kv"] and got["spans"] == committed["spans"]
    assert s.kernel.get_activity_hash() == activity
    assert s.kernel.transcripts.read_span("v1") == [
        i[3] for i in committed["items"]
        if i[0] == "v1" and i[1] >= current["transcript.v1.current"]["startPos"]]
    with pytest.raises(SwingStoreError, match="incomplete"):
        s.kernel.transcripts.read_span("v1", 0)
    s.close()


def test_archival_export_of_pruned_store_fails(tmp_path):
    path = tmp_path / "pruned.sqlite"
    s = open_swingstore(path)
    tr = s.kernel.transcripts
    tr.init_transcript("v1")
    tr.add_item("v1", "a")
    tr.rollover_span("v1")
    tr.prune_span("v1", 0)
    s.host.commit()
    with pytest.raises(SwingStoreError, match="pruned"):
        export_swingstore(path)
    export_data, artifacts = export_swingstore(path, artifact_mode="operational")
    assert "transcript.v1.1.1" in artifacts
    s.close()


def _corrupt_items(data: bytes, fn) -> bytes:
    lines = data.decode().splitlines()
    return ("".join(line + "\n" for line in fn(lines))).encode()


CORRUPTIONS = {
    "missing bundle artifact": (
        lambda ed, art: (ed, {k: v for k, v in art.items() if not k.startswith("bundle.")}),
        r"missing artifact 'bundle\.b1-"),
    "missing span artifact": (
        lambda ed, art: (ed, {k: v for k, v in art.items() if k != "transcript.v1.0.3"}),
        r"missing artifact 'transcript\.v1\.0\.3'"),
    "corrupt bundle bytes": (
        lambda ed, art: (ed, {k: (v[:-1] + b"!" if k.startswith("bundle.") else v)
                              for k, v in art.items()}),
        r"artifact 'bundle\.b1-[0-9a-f]+' is corrupt: bundle ID mismatch"),
    "corrupt span item": (
        lambda ed, art: (ed, art | {"transcript.v1.0.3": _corrupt_items(
            art["transcript.v1.0.3"], lambda ls: ls[:-1] + [json.dumps("forged")])}),
        r"artifact 'transcript\.v1\.0\.3' does not match its span hash"),
    "span with too few items": (
        lambda ed, art: (ed, art | {"transcript.v1.0.3": _corrupt_items(
            art["transcript.v1.0.3"], lambda ls: ls[:-1])}),
        r"artifact 'transcript\.v1\.0\.3' has 2 items but its span needs 3"),
    "malformed span artifact": (
        lambda ed, art: (ed, art | {"transcript.v1.0.3": b"not json\n"}),
        r"artifact 'transcript\.v1\.0\.3' is malformed"),
    "unknown artifact name": (
        lambda ed, art: (ed, art | {"snapshot.v1.3": b"heap"}),
        r"unknown artifact name 'snapshot\.v1\.3'"),
    "artifact without record": (
        lambda ed, art: (ed, art | {"transcript.v1.0.2": b""}),
        r"artifact 'transcript\.v1\.0\.2' does not match any span"),
    "unknown export-data key": (
        lambda ed, art: (ed + [("snapshot.v1.current", "{}")], art),
        r"unknown export-data key 'snapshot\.v1\.current'"),
    "duplicate export-data key": (
        lambda ed, art: (ed + [ed[0]], art),
        r"appears twice"),
    "non-consensus kv key": (
        lambda ed, art: (ed + [("kv.local.x", "1")], art),
        r"'kv\.local\.x' is not a consensus kv key"),
    "key vs metadata mismatch": (
        lambda ed, art: ([(("transcript.v1.4" if k == "transcript.v1.0" else k), v)
                          for k, v in ed], art),
        r"'transcript\.v1\.4' does not match its startPos 0"),
    "span record with bad fields": (
        lambda ed, art: ([(k, (v.replace('"incarnation":0', '"incarnation":"0"')
                               if k == "transcript.v1.0" else v)) for k, v in ed], art),
        r"'transcript\.v1\.0' has malformed fields"),
    "gap between spans": (
        lambda ed, art: ([(k, v) for k, v in ed if k != "transcript.v1.3"],
                         {k: v for k, v in art.items() if not k.startswith("transcript.v1.3.")}),
        r"spans of vat 'v1' are not contiguous at 6"),
    "bundle record with wrong value": (
        lambda ed, art: ([(k, ("b1-" + "0" * 128 if k.startswith("bundle.") else v))
                          for k, v in ed], art),
        r"is not a valid bundle record"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_import_rejects_corruption_and_leaves_no_file(source, tmp_path, case):
    path = source[0]
    export_data, artifacts = export_swingstore(path)
    mutate, message = CORRUPTIONS[case]
    bad_data, bad_artifacts = mutate(export_data, artifacts)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "imported.sqlite"
    with pytest.raises(SwingStoreImportError, match=message):
        import_swingstore(target, bad_data, bad_artifacts)
    assert list(out.iterdir()) == []


def test_import_refuses_existing_target(source, tmp_path):
    export_data, artifacts = export_swingstore(source[0])
    target = tmp_path / "exists.sqlite"
    target.write_bytes(b"precious")
    with pytest.raises(SwingStoreImportError, match="refusing to import over existing"):
        import_swingstore(target, export_data, artifacts)
    assert target.read_bytes() == b"precious"


def test_import_error_is_a_swingstore_error():
    assert issubclass(SwingStoreImportError, SwingStoreError)
