"""atheris harness: the bundle validator (kernelhost.swingstore.bundleformat.validate_bundle).

Input bytes become a bundle two ways:
- bytes starting with "PK" are the zip itself (the seeds are real bundles, so libFuzzer
  mutates valid zips: headers, sizes, CRCs, names, the deflate stream, the manifest);
- anything else drives a FuzzedDataProvider that builds a zip with zipfile: hostile member
  names, compression methods (stored, deflate, bzip2, lzma), file modes, contents (bombs
  included) and a manifest.json of fuzzed values, raw bytes or hostile JSON.
validate_bundle (also with the bundle's own ID as alleged ID) must accept it or raise
BundleError with a message; an accepted bundle must read back with read_bundle_files.
zipfile and json are instrumented too, so coverage follows the zip parser.

    .venv/bin/python fuzz/fuzz_bundles.py -atheris_runs=100000 fuzz/corpus/bundles fuzz/seeds/bundles
"""

from __future__ import annotations

import io
import warnings

import atheris
from _common import STATS, json_value, main

with atheris.instrument_imports(include=["kernelhost.swingstore.bundleformat", "zipfile", "json"]):
    import json
    import zipfile

    from kernelhost.swingstore.bundleformat import (
        BundleError,
        bundle_id_of,
        make_bundle_from_files,
        read_bundle_files,
        validate_bundle,
    )

warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # zipfile, building hostile zips

MEMBER_NAMES = ["main.py", "../evil.py", "/abs.py", "a\\b.py", "C:x.py", "a//b.py", "./a.py", "dir/", "x.txt",
                "MAIN.py", "a/../b.py", "nul\x00.py", "ü.py", "manifest.json", ".py", "a/.py", "lib/__init__.py",
                "lib/util.py", "kernel/__init__.py", "data.json"]
MANIFEST_STRINGS = ["vat", "kernel", "main", "main.py", "lib", "lib.util", "kernel", "kernel/__init__.py", ".py",
                    "__init__.py", "a..b", ""]
METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
MODES = [0o644 << 16, 0o120777 << 16, 0o040755 << 16, 0o100755 << 16, 0o020644 << 16, 0, 0x10]


def built_zip(data: bytes) -> bytes:
    fdp = atheris.FuzzedDataProvider(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for _ in range(fdp.ConsumeIntInRange(0, 5)):
            if fdp.ConsumeBool():
                name = fdp.PickValueInList(MEMBER_NAMES)
            else:
                name = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(1, 12)) or "x"
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = fdp.PickValueInList(METHODS)
            info.external_attr = fdp.PickValueInList(MODES)
            info.flag_bits |= fdp.PickValueInList([0, 0, 0, 0x1, 0x8, 0x20, 0x40])
            kind = fdp.ConsumeIntInRange(0, 5)
            if kind == 0:
                content = b"0" * fdp.ConsumeIntInRange(60_000, 200_000)  # over the ratio check's threshold
            elif kind == 1:
                content = b"\xff\xfe"
            else:
                content = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
            zf.writestr(info, content)
        how = fdp.ConsumeIntInRange(0, 5)
        if how < 3:
            manifest = {"format": 1, "kind": "vat", "entry": "main", "apiVersion": 1}
            for _ in range(fdp.ConsumeIntInRange(0 if how else 1, 4)):
                key = fdp.PickValueInList(["format", "kind", "entry", "apiVersion", "extra"])
                manifest[key] = (fdp.PickValueInList(MANIFEST_STRINGS) if fdp.ConsumeBool()
                                 else json_value(fdp, strings=MANIFEST_STRINGS))
            try:
                raw = json.dumps(manifest).encode("utf-8", "surrogatepass")
            except (TypeError, ValueError):  # bytes / non-str keys from json_value: not JSON at all
                raw = repr(manifest).encode("utf-8", "surrogatepass")
            zf.writestr("manifest.json", raw)
        elif how == 3:
            zf.writestr("manifest.json", fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40)))
        elif how == 4:
            zf.writestr("manifest.json", fdp.PickValueInList([
                b'{"format": 1, "kind": "vat", "entry": "main", "apiVersion": ' + b"9" * 5000 + b"}",
                b"[" * 100_000 + b"]" * 100_000, b'{"format": 1.0, "kind": "vat", "entry": "main", "apiVersion": 1}',
                b'\xef\xbb\xbf{"format": 1, "kind": "vat", "entry": "main", "apiVersion": 1}']))
        # how == 5: no manifest
    out = buf.getvalue()
    if out and fdp.ConsumeIntInRange(0, 3) == 0:  # then corrupt one byte of the finished zip
        raw = bytearray(out)
        raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = fdp.ConsumeIntInRange(0, 255)
        out = bytes(raw)
    return out


def test_one_input(data: bytes) -> None:
    bundle = data if data[:2] == b"PK" else built_zip(data)
    for alleged in (None, bundle_id_of(bundle)):
        try:
            manifest = validate_bundle(bundle, alleged)
        except BundleError as exc:
            STATS["refused"] += 1
            assert str(exc), "BundleError without a message"
            return
    STATS["accepted"] += 1
    files = read_bundle_files(bundle)
    assert manifest.entry_member in files and manifest.kind in ("vat", "kernel"), manifest


def seeds() -> dict[str, bytes]:
    vat = make_bundle_from_files({"main.py": b"def build_root_object(vp, p, b):\n    return None\n",
                                  "lib/__init__.py": b"", "lib/util.py": b"X = 1\n"},
                                 kind="vat", entry="main", api_version=1)
    kernel = make_bundle_from_files({"kernel/__init__.py": b"VERSION = 'fuzz'\n", "kernel/data.json": b"{}"},
                                    kind="kernel", entry="kernel/__init__.py", api_version=0,
                                    extra_manifest={"note": "seed"})
    return {"vat-bundle.zip": vat, "kernel-bundle.zip": kernel, "structured": b"\x02\x01\x00main.py\x00\x00"}


if __name__ == "__main__":
    main("bundles", test_one_input, seeds, max_len=16384)
