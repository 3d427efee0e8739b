"""atheris harness: the state-sync importer (kernelhost.swingstore.import_swingstore).

At start the harness builds a small real swing-store (two vats, transcripts with span
rollovers, two bundles) in a temp dir and exports it. Input bytes become an import two ways:
- UTF-8 text is parsed as a JSON document {"exportData": [[key, value], ...],
  "artifacts": {name: str}} (a str artifact is its bytes as Latin-1; any other JSON value is
  passed as it is). The seeds are the real export in this form, so libFuzzer mutates real
  records, span hashes, transcript lines and bundle zips;
- anything else drives a FuzzedDataProvider that edits the real export: records dropped,
  duplicated, re-keyed, rewritten, span fields replaced (huge / negative ints, bools, NaN,
  deep nesting), artifacts dropped, renamed, bit-flipped, truncated, replaced.
import_swingstore must build a store that opens, or raise SwingStoreError (with a message)
and leave no file behind (neither the target nor `<target>.importing-<pid>`).

    .venv/bin/python fuzz/fuzz_import.py -atheris_runs=100000 fuzz/corpus/import fuzz/seeds/import
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import atheris
from _common import STATS, as_text, json_value, main, temp_dir

with atheris.instrument_imports(include=["kernelhost.swingstore"]):
    from kernelhost.swingstore import SwingStoreError, import_swingstore, open_swingstore
    from tests.hostile.sample_store import sample_export

WORK = temp_dir("import")
TARGET = WORK / "import" / "store.sqlite"
TARGET.parent.mkdir()

# the same store as tests/hostile/test_fuzz_import.py
(WORK / "source").mkdir()
EXPORT_DATA, ARTIFACTS = sample_export(WORK / "source" / "source.sqlite")
KEYS = ["kv.", "kv.host.x", "kv.local.y", "bundle.x", "transcript.v1.current", "transcript.v1.3", "transcript..0",
        "transcript.v1.0", "transcript.v2.current", "bundle.b1-" + "0" * 128, "x", "kv.crankNumber"]
ART_NAMES = ["bundle.b1-" + "0" * 128, "transcript.v1.0.99", "transcript.v9.0.1", "transcript.v1.0.4", "nonsense",
             *ARTIFACTS]
VALUES = ["", "\ud800", "[" * 50_000, '{"vatID":"v1"}', "b1-" + "0" * 128, "9" * 5000, "0" * 64, "current",
          *(v for _k, v in EXPORT_DATA)]
RAW_SPAN_VALUES = ["9" * 5000, "[" * 50_000 + "]" * 50_000, "1e999", "NaN", "-1", "true", "null", str(2**63),
                   '"' + "0" * 64 + '"', "[]", "{}"]
ART_LINES = [b"[" * 50_000 + b"\n", b"\xff\n", b'"x"', b"1\n", b'"' + b"9" * 5000 + b'"\n', b"\n\n", b'"\\ud800"\n']


def edited(data: bytes):
    """The real export, edited as the FuzzedDataProvider says."""
    fdp = atheris.FuzzedDataProvider(data)
    export = [list(e) for e in EXPORT_DATA]
    arts: dict = dict(ARTIFACTS)
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        op = fdp.ConsumeIntInRange(0, 12)
        names = sorted(arts, key=str)
        if op >= 7 and names:
            name = fdp.PickValueInList(names)
            if op == 7:
                del arts[name]
            elif op == 8:
                arts[fdp.PickValueInList(ART_NAMES)] = arts.pop(name)
            elif op == 9:
                raw = bytearray(arts[name]) if isinstance(arts[name], bytes) else bytearray()
                if raw:
                    i = fdp.ConsumeIntInRange(0, len(raw) - 1)
                    raw[i] ^= 1 << fdp.ConsumeIntInRange(0, 7)
                    if fdp.ConsumeBool():
                        del raw[i:]
                arts[name] = bytes(raw)
            elif op == 10:
                arts[name] = json_value(fdp) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 30))
            elif op == 11:
                arts[name] = fdp.PickValueInList(ART_LINES)
            else:
                arts[fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 12))] = b"x"
            continue
        if not export:
            continue
        i = fdp.ConsumeIntInRange(0, len(export) - 1)
        entry = export[i]
        pair = isinstance(entry, list) and len(entry) == 2
        if op == 0:
            del export[i]
        elif op == 1:
            export.append(list(entry) if isinstance(entry, list) else entry)
        elif op == 2 and pair:
            entry[0] = fdp.PickValueInList(KEYS) if fdp.ConsumeBool() else fdp.ConsumeUnicode(12)
        elif op == 3 and pair:
            entry[1] = fdp.PickValueInList(VALUES) if fdp.ConsumeBool() else json_value(fdp)
        elif op == 4 and pair and isinstance(entry[0], str) and entry[0].startswith("transcript."):
            try:
                rec = json.loads(entry[1])
                field = fdp.PickValueInList(sorted(rec))
            except (TypeError, ValueError, AttributeError, RecursionError, IndexError):
                continue  # already edited into something else
            if fdp.ConsumeBool():
                rec[field] = json_value(fdp)
                try:
                    entry[1] = json.dumps(rec)
                except (TypeError, ValueError):
                    continue  # bytes or a non-str key: not JSON
            else:  # numbers over the int digit limit, deep nesting, non-JSON numbers, as raw JSON
                rec[field] = "@@"
                entry[1] = json.dumps(rec).replace('"@@"', fdp.PickValueInList(RAW_SPAN_VALUES))
        elif op == 5:
            export.append([fdp.ConsumeUnicode(12), fdp.PickValueInList(VALUES)])
        else:
            export[i] = json_value(fdp)  # not a (key, value) pair
    return export, arts


def from_document(text: str):
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    export, arts = doc.get("exportData", []), doc.get("artifacts", {})
    if not isinstance(export, list) or not isinstance(arts, dict):
        return None
    artifacts = {}
    for name, value in arts.items():
        if isinstance(value, str):
            try:
                value = value.encode("latin-1")
            except UnicodeEncodeError:
                pass  # not Latin-1: passed as a str, which is not bytes
        artifacts[name] = value
    return export, artifacts


def _leftovers() -> list[str]:
    return sorted(os.listdir(TARGET.parent))


def test_one_input(data: bytes) -> None:
    text = as_text(data)
    parsed = edited(data) if text is None else from_document(text)
    if parsed is None:
        STATS["not-a-document"] += 1
        return
    export_data, artifacts = parsed
    try:
        import_swingstore(TARGET, export_data, artifacts)
    except SwingStoreError as exc:
        STATS["refused"] += 1
        assert str(exc), "SwingStoreError without a message"
        assert _leftovers() == [], f"refused import left files: {_leftovers()}"
        return
    STATS["imported"] += 1
    try:
        assert _leftovers() == ["store.sqlite"], _leftovers()
        open_swingstore(TARGET, readonly=True).close()
    finally:
        shutil.rmtree(TARGET.parent)
        TARGET.parent.mkdir()


def seeds() -> dict[str, bytes]:
    def document(export, arts) -> bytes:
        return json.dumps({"exportData": export, "artifacts": {k: v.decode("latin-1") for k, v in arts.items()}},
                          indent=0).encode()

    return {
        "export-full.json": document(EXPORT_DATA, ARTIFACTS),
        "export-kv-only.json": document([e for e in EXPORT_DATA if e[0].startswith("kv.")], {}),
        "export-no-bundles.json": document([e for e in EXPORT_DATA if not e[0].startswith("bundle.")],
                                           {k: v for k, v in ARTIFACTS.items() if not k.startswith("bundle.")}),
        "edit-records": b"\xff\x00\x03\x01",
        "edit-artifacts": b"\xff\x01\x09\x02",
    }


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write-seeds"]:
        os.fsync = lambda fd: None  # durability is not under test; keeps the fuzz fast
    main("import", test_one_input, seeds, max_len=32768)
