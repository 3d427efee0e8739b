"""Fuzz the bundle validator: random bytes, valid bundles with bytes flipped / cut / inserted,
and zips built with hostile member names and manifests all end in BundleError (or are
accepted, for a mutation that happens to keep the bundle valid) — never another exception."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kernelhost.swingstore.bundleformat import BundleError, make_bundle_from_files, validate_bundle

from .conftest import FUZZ_SETTINGS, tried

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

VALID = make_bundle_from_files({"main.py": b"def build_root_object(vp, p, b):\n    return None\n",
                                "lib/__init__.py": b"", "lib/util.py": b"X = 1\n"},
                               kind="vat", entry="main", api_version=1)


def check(data, alleged_id=None):
    try:
        validate_bundle(data, alleged_id)
    except BundleError as exc:
        assert str(exc)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=2048))
@example(data=b"PK\x03\x04")
@example(data=b"PK\x05\x06" + b"\x00" * 18)
def test_fuzz_random_bytes(data):
    tried("bundle validator (random bytes)")
    check(data)


@st.composite
def mutated(draw):
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[i]
        if not data:
            break
    return bytes(data)


@FUZZ_SETTINGS
@given(data=mutated(), with_id=st.booleans())
def test_fuzz_mutated_valid_bundles(data, with_id):
    tried("bundle validator (mutated valid zips)")
    from kernelhost.swingstore.bundleformat import bundle_id_of

    check(data, bundle_id_of(VALID) if with_id else None)


member_names = st.one_of(
    st.sampled_from(["main.py", "../evil.py", "/abs.py", "a\\b.py", "C:x.py", "a//b.py", "./a.py", "dir/", "x.txt",
                     "MAIN.py", "main.py", "a/../b.py", "nul\x00.py", "ü.py", "manifest.json", ".py", "a/.py"]),
    st.text(max_size=12),
)
manifest_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
    st.lists(st.integers(), max_size=2), st.sampled_from(["vat", "kernel", "main", "main.py", "lib", "lib.util"]),
)


@st.composite
def hostile_zips(draw):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in draw(st.lists(member_names, max_size=5)):
            method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2]))
            info = zipfile.ZipInfo(name or "x", (1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = draw(st.sampled_from([0o644 << 16, 0o120777 << 16, 0o040755 << 16, 0]))
            content = draw(st.one_of(st.binary(max_size=64), st.just(b"\xff\xfe"), st.just(b"0" * 70_000)))
            zf.writestr(info, content)
        manifest = draw(st.one_of(
            st.fixed_dictionaries({}, optional={"format": manifest_values, "kind": manifest_values,
                                                "entry": manifest_values, "apiVersion": manifest_values}),
            st.just({"format": 1, "kind": "vat", "entry": "main", "apiVersion": 1})))
        raw = draw(st.one_of(st.just(json.dumps(manifest).encode()), st.binary(max_size=20),
                             st.just(b'{"format": 1, "apiVersion": ' + b"9" * 5000 + b"}"),
                             st.just(b"[" * 100_000 + b"]" * 100_000)))
        if draw(st.booleans()):
            zf.writestr("manifest.json", raw)
    return buf.getvalue()


@FUZZ_SETTINGS
@given(data=hostile_zips())
def test_fuzz_hostile_zips(data):
    tried("bundle validator (hostile zips)")
    check(data)


@pytest.mark.parametrize("manifest", [b'{"format": 1, "kind": "vat", "entry": "main", "apiVersion": ' + b"9" * 5000 + b"}",
                                      b"[" * 100_000 + b"]" * 100_000], ids=["huge-int", "deep"])
def test_hostile_manifests_are_bundle_errors(manifest):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("main.py", b"")
        zf.writestr("manifest.json", manifest)
    with pytest.raises(BundleError, match="manifest.json"):
        validate_bundle(buf.getvalue())


def test_unsupported_zip_version_in_the_central_directory_is_a_bundle_error():
    # found by the fuzzer: zipfile raises NotImplementedError("zip file version 8.4")
    data = bytearray(VALID)
    central = data.index(b"PK\x01\x02")
    data[central + 6] = 84  # "version needed to extract" = 8.4
    with pytest.raises(BundleError, match="not a readable zip"):
        validate_bundle(bytes(data))


@pytest.mark.parametrize("disk,disks", [(1, 1), (0, 2)], ids=["other-disk", "two-disks"])
def test_multi_disk_zip64_locator_is_a_bundle_error(disk, disks):
    # found by fuzz/fuzz_bundles.py (atheris): zipfile.is_zipfile() only swallows OSError, so a
    # zip64 end-of-central-directory locator naming another disk made validate_bundle raise
    # zipfile.BadZipFile("zipfiles that span multiple disks are not supported")
    locator = struct.pack("<4sLQL", b"PK\x06\x07", disk, 0, disks)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0, 0, 0, 0, 0)
    for data in (locator + end, VALID[:VALID.rindex(b"PK\x05\x06")] + locator + VALID[VALID.rindex(b"PK\x05\x06"):]):
        with pytest.raises(BundleError, match="zip"):
            validate_bundle(data)
