"""Bundle format (deterministic zips, validation) and the bundle store."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from kernelhost.swingstore import BundleError, SwingStoreError
from kernelhost.swingstore.bundleformat import (
    MAX_ENTRIES,
    bundle_id_of,
    is_bundle_id,
    make_bundle,
    make_bundle_from_files,
    read_bundle_files,
    validate_bundle,
)

MANIFEST = {"format": 1, "kind": "vat", "entry": "vat.py", "apiVersion": 1}


def raw_zip(members, *, attr=0o644 << 16, manifest=MANIFEST) -> bytes:
    """A hand-made zip, to build bundles the writer would refuse to make."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest is not None:
            zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = attr
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def write_source(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


SOURCES = {
    "kernel/__init__.py": "from .core import run\n",
    "kernel/core.py": "def run():\n    return 1\n",
    "kernel/sub/deep.py": "X = 2\n",
    "kernel/__pycache__/core.cpython-311.py": "junk\n",
    "kernel/notes.txt": "not bundled\n",
}


def test_make_bundle_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_source(a, SOURCES)
    write_source(b, dict(reversed(list(SOURCES.items()))))  # other creation order
    (b / "kernel" / "core.py").touch()  # other mtime
    one = make_bundle(a / "kernel", kind="kernel", entry="kernel", api_version=1,
                      package="kernel")
    two = make_bundle(b / "kernel", kind="kernel", entry="kernel", api_version=1,
                      package="kernel")
    assert one == two
    assert bundle_id_of(one) == bundle_id_of(two)
    assert is_bundle_id(bundle_id_of(one)) and len(bundle_id_of(one)) == 3 + 128
    with zipfile.ZipFile(io.BytesIO(one)) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) == ["kernel/__init__.py", "kernel/core.py",
                                      "kernel/sub/deep.py", "manifest.json"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr for i in infos} == {0o644 << 16}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    manifest = validate_bundle(one, bundle_id_of(one))
    assert (manifest.kind, manifest.entry, manifest.api_version) == ("kernel", "kernel", 1)
    assert manifest.entry_member == "kernel/__init__.py"
    assert manifest.entry_module == "kernel"
    files = read_bundle_files(one)
    assert files["kernel/sub/deep.py"] == b"X = 2\n"
    assert json.loads(files["manifest.json"]) == {
        "format": 1, "kind": "kernel", "entry": "kernel", "apiVersion": 1}


def test_extra_manifest_and_entry_forms():
    files = {"pkg/mod.py": b"x = 1\n"}
    data = make_bundle_from_files(files, kind="vat", entry="pkg/mod.py", api_version=3,
                                  extra_manifest={"name": "counter"})
    m = validate_bundle(data)
    assert m.entry_module == "pkg.mod" and m.extra == {"name": "counter"}
    assert m.to_dict() == {"format": 1, "kind": "vat", "entry": "pkg/mod.py",
                           "apiVersion": 3, "name": "counter"}
    with pytest.raises(BundleError, match="reserved keys"):
        make_bundle_from_files(files, kind="vat", entry="pkg.mod", api_version=1,
                               extra_manifest={"kind": "kernel"})


GOOD_VAT = [("vat.py", b"def build_root_object(p, v, b):\n    return None\n")]


@pytest.mark.parametrize("data, message", [
    (b"definitely not a zip", "not a zip archive"),
    (raw_zip(GOOD_VAT + [("../x.py", b"")]), "'../x.py' escapes the bundle root"),
    (raw_zip(GOOD_VAT + [("a/../../x.py", b"")]), "escapes the bundle root"),
    (raw_zip(GOOD_VAT + [("/etc/x.py", b"")]), "'/etc/x.py' is an absolute path"),
    (raw_zip(GOOD_VAT + [("C:/x.py", b"")]), "drive letter"),
    (raw_zip(GOOD_VAT + [("a\\b.py", b"")]), "backslash"),
    (raw_zip(GOOD_VAT + [("link.py", b"/etc/passwd")], attr=(stat.S_IFLNK | 0o777) << 16),
     "is a symbolic link"),
    (raw_zip(GOOD_VAT + [("dev.py", b"")], attr=(stat.S_IFCHR | 0o644) << 16),
     "not a regular file"),
    (raw_zip(GOOD_VAT + [("data.bin", b"")]), "not a .py or .json file"),
    (raw_zip(GOOD_VAT, manifest=None), "no manifest.json"),
    (raw_zip(GOOD_VAT, manifest=dict(MANIFEST, kind="device")), "kind 'device' is not one of"),
    (raw_zip(GOOD_VAT, manifest=dict(MANIFEST, format=2)), "format 2 is not supported"),
    (raw_zip(GOOD_VAT, manifest=dict(MANIFEST, entry="missing.py")), "not a member"),
    (raw_zip(GOOD_VAT, manifest=dict(MANIFEST, entry="nope.mod")), "matches neither"),
    (raw_zip(GOOD_VAT, manifest=dict(MANIFEST, apiVersion="1")), "apiVersion"),
    (raw_zip(GOOD_VAT, manifest={"kind": "vat"}), "lacks 'format'"),
    (raw_zip(GOOD_VAT, manifest=[1, 2]), "must be a JSON object"),
    (raw_zip(GOOD_VAT + [("bad.py", b"\xff\xfe")]), "not valid UTF-8"),
])
def test_bad_bundles_are_rejected(data, message):
    with pytest.raises(BundleError, match=message):
        validate_bundle(data)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicate_and_case_clash_names():
    dup = raw_zip(GOOD_VAT + [("a.py", b"1"), ("a.py", b"2")])
    with pytest.raises(BundleError, match="'a.py' appears more than once"):
        validate_bundle(dup)
    clash = raw_zip(GOOD_VAT + [("A.py", b"1"), ("a.py", b"2")])
    with pytest.raises(BundleError, match="differ only by case"):
        validate_bundle(clash)


def test_zip_bomb_rejected():
    bomb = raw_zip(GOOD_VAT + [("bomb.py", b"#" * (20 * 1024 * 1024))])
    assert len(bomb) < 100_000
    with pytest.raises(BundleError, match=r"compression ratio \d+:1, over the limit of 100:1 \(zip bomb\?\)"):
        validate_bundle(bomb)
    total = raw_zip(GOOD_VAT + [(f"m{i}.py", b"#" * (9 * 1024 * 1024)) for i in range(4)])
    with pytest.raises(BundleError, match="expands to more than"):
        validate_bundle(total, max_ratio=10**9)


def test_limits_on_size_and_entries():
    many = raw_zip(GOOD_VAT + [(f"m{i}.py", b"") for i in range(MAX_ENTRIES)])
    with pytest.raises(BundleError, match=f"over the limit of {MAX_ENTRIES}"):
        validate_bundle(many)
    data = make_bundle_from_files(dict(GOOD_VAT), kind="vat", entry="vat", api_version=1)
    with pytest.raises(BundleError, match="over the limit of 100"):
        validate_bundle(data, max_bytes=100)


def test_lying_header_is_caught():
    data = bytearray(make_bundle_from_files(dict(GOOD_VAT), kind="vat", entry="vat",
                                            api_version=1))
    # corrupt one byte of compressed data: CRC check must catch it
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("vat.py")
    offset = info.header_offset + 30 + len(info.filename) + 2
    data[offset] ^= 0xFF
    with pytest.raises(BundleError, match="'vat.py' is corrupt"):
        validate_bundle(bytes(data))


def test_alleged_id_must_match():
    data = make_bundle_from_files(dict(GOOD_VAT), kind="vat", entry="vat", api_version=1)
    other = make_bundle_from_files(dict(GOOD_VAT), kind="vat", entry="vat", api_version=2)
    with pytest.raises(BundleError, match="bundle ID mismatch"):
        validate_bundle(data, bundle_id_of(other))
    with pytest.raises(BundleError, match="malformed bundle ID"):
        validate_bundle(data, "b1-xyz")
    assert validate_bundle(data, bundle_id_of(data)).api_version == 1


def test_bundle_store(store, make_vat_bundle, db_path):
    from kernelhost.swingstore import open_swingstore

    bundles = store.kernel.bundles
    data = make_vat_bundle("1")
    bid = bundle_id_of(data)
    assert not bundles.has_bundle(bid)
    bundles.add_bundle(bid, data)
    bundles.add_bundle(bid, data)  # no-op
    assert bundles.has_bundle(bid)
    assert bundles.get_bundle(bid) == data
    assert bundles.list_bundle_ids() == [bid]
    with pytest.raises(BundleError, match="mismatch"):
        bundles.add_bundle(bid, make_vat_bundle("2"))
    with pytest.raises(BundleError, match="not a zip"):
        bundles.add_bundle(bundle_id_of(b"junk"), b"junk")
    store.host.commit()
    store.close()
    s = open_swingstore(db_path)
    assert s.kernel.bundles.get_bundle(bid) == data
    assert s.kernel.bundles.delete_bundle(bid) is True
    assert s.kernel.bundles.delete_bundle(bid) is False
    with pytest.raises(SwingStoreError, match="not in the store"):
        s.kernel.bundles.get_bundle(bid)
    s.close()
