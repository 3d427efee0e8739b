"""Fuzz the state-sync importer: export data and artifacts of a real store, mutated (records
dropped, duplicated, renamed, rewritten; span records with hostile fields; artifacts dropped,
renamed, corrupted, replaced), are imported or refused with a SwingStoreError subclass — and a
refused import leaves no file behind (neither the target nor `<target>.importing-<pid>`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernelhost.swingstore import SwingStoreError, import_swingstore, open_swingstore

from .conftest import FUZZ_SETTINGS, tried
from .sample_store import sample_export


@pytest.fixture(scope="module")
def source_export(tmp_path_factory):
    return sample_export(tmp_path_factory.mktemp("import-source") / "source.sqlite")


HOSTILE_VALUES = st.one_of(
    st.text(max_size=30), st.none(), st.integers(), st.binary(max_size=8),
    st.sampled_from(["", "\ud800", "[" * 50_000, '{"vatID":"v1"}', "b1-" + "0" * 128]),
)
SPAN_FIELD_VALUES = st.one_of(
    st.integers(), st.integers(min_value=2**62, max_value=2**70), st.just(-1),
    st.booleans(), st.none(), st.text(max_size=10), st.just("0" * 64),
)


@st.composite
def mutations(draw, source):
    export_data, artifacts = source
    data = [list(e) for e in export_data]
    arts = dict(artifacts)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "dup", "rekey", "revalue", "span-field", "add-key", "raw-entry",
                                   "art-drop", "art-rename", "art-corrupt", "art-replace", "art-add", "art-line"]))
        if op.startswith("art-") and arts:
            name = draw(st.sampled_from(sorted(arts)))
            if op == "art-drop":
                del arts[name]
            elif op == "art-rename":
                arts[draw(st.sampled_from(["bundle.b1-" + "0" * 128, "transcript.v1.0.99", "transcript.v9.0.1",
                                           "nonsense", name + "x"]))] = arts.pop(name)
            elif op == "art-corrupt":
                raw = bytearray(arts[name]) if isinstance(arts[name], bytes) else bytearray()
                if raw:
                    i = draw(st.integers(0, len(raw) - 1))
                    raw[i] ^= 1 << draw(st.integers(0, 7))
                    if draw(st.booleans()):
                        del raw[i:]
                arts[name] = bytes(raw)
            elif op == "art-replace":
                arts[name] = draw(st.one_of(st.binary(max_size=30), st.text(max_size=5), st.none()))
            elif op == "art-line":
                arts[name] = draw(st.sampled_from([b"[" * 50_000 + b"\n", b"\xff\n", b'"x"', b"1\n",
                                                   b'"' + b"9" * 5000 + b'"\n', b"\n\n"]))
            else:
                arts[draw(st.text(max_size=12))] = b"x"
        else:
            pairs = [j for j, e in enumerate(data) if isinstance(e, list) and len(e) == 2]
            if not pairs:
                continue
            i = draw(st.sampled_from(pairs))
            if op == "drop":
                del data[i]
            elif op == "dup":
                data.append(list(data[i]))
            elif op == "rekey":
                data[i][0] = draw(st.one_of(st.sampled_from(["kv.", "kv.host.x", "kv.local.y", "bundle.x",
                                                             "transcript.v1.current", "transcript.v1.3",
                                                             "transcript..0", "x"]), st.text(max_size=12)))
            elif op == "revalue":
                data[i][1] = draw(HOSTILE_VALUES)
            elif op == "span-field":
                spans = [data[j] for j in pairs if isinstance(data[j][0], str) and data[j][0].startswith("transcript.")]
                if spans:
                    entry = draw(st.sampled_from(spans))
                    try:
                        rec = json.loads(entry[1])
                        field = draw(st.sampled_from(sorted(rec)))
                    except (TypeError, ValueError, AttributeError, RecursionError):
                        continue  # already mutated into something else
                    if draw(st.booleans()):
                        rec[field] = draw(SPAN_FIELD_VALUES)
                        entry[1] = json.dumps(rec)
                    else:  # numbers over the int digit limit, and deep nesting, as raw JSON
                        rec[field] = "@@"
                        raw = draw(st.sampled_from(["9" * 5000, "[" * 50_000 + "]" * 50_000, "1e999", "NaN"]))
                        entry[1] = json.dumps(rec).replace('"@@"', raw)
            elif op == "add-key":
                data.append([draw(st.text(max_size=12)), draw(HOSTILE_VALUES)])
            else:
                data[i] = draw(st.one_of(st.none(), st.integers(), st.text(max_size=4), st.lists(st.none(), max_size=3)))
    return data, arts


def _leftovers(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.fixture(scope="module")
def import_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("imports")


def test_unmutated_export_imports(source_export, import_dir):
    export_data, artifacts = source_export
    target = import_dir / "clean" / "store.sqlite"
    import_swingstore(target, export_data, artifacts)
    open_swingstore(target, readonly=True).close()


@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_import_raises_only_swingstore_errors_and_leaves_nothing(source_export, import_dir, data):
    tried("transcript importer (import_swingstore)")
    export_data, artifacts = data.draw(mutations(source_export))
    directory = Path(tempfile.mkdtemp(dir=import_dir))
    target = directory / "store.sqlite"
    try:
        with mock.patch("os.fsync"):  # durability is not under test; keeps the fuzz fast
            import_swingstore(target, export_data, artifacts)
    except SwingStoreError as exc:
        assert str(exc)
        assert _leftovers(directory) == [], f"refused import left files: {_leftovers(directory)}"
    else:
        assert _leftovers(directory) == ["store.sqlite"], _leftovers(directory)
        open_swingstore(target, readonly=True).close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
