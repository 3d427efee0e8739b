"""Bundles to upload (good and bad), a captured live publisher, and a small swing-store file
with installed bundles used by the kernel and by vats."""

from __future__ import annotations

import functools
import io
import json
import zipfile

import pytest

from kernelhost.controller.bundling import bundle_kernel_source, bundle_vat_source
from kernelhost.swingstore.bundleformat import bundle_id_of, make_bundle_from_files

COUNTER_DIR = "kernelhost/demo/vats/counter"


@functools.cache
def vat_bundle() -> bytes:
    return bundle_vat_source(COUNTER_DIR)


@functools.cache
def kernel_bundle() -> bytes:
    return bundle_kernel_source()


def vat_from_source(source: str) -> bytes:
    return make_bundle_from_files({"vat.py": source.encode()}, kind="vat", entry="vat", api_version=1)


def raw_zip(members: dict[str, bytes], manifest: dict | None = None) -> bytes:
    """A zip written without the bundle writer's checks (for hostile uploads)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest is not None:
            zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


MANIFEST = {"format": 1, "kind": "vat", "entry": "vat", "apiVersion": 1}
GOOD_VAT_SOURCE = "def build_root_object(vat_powers, vat_parameters, baggage):\n    return None\n"

BAD_UPLOADS = {
    # case: (bytes, declared kind, words the message must contain)
    "not-a-zip": (b"this is a text file, not a zip\n" * 20, "vat", "not a zip archive"),
    "zip-bomb": (raw_zip({"vat.py": GOOD_VAT_SOURCE.encode(), "big.py": b"#" * (4 * 1024 * 1024)}, MANIFEST), "vat",
                 "zip bomb"),
    "dotdot-path": (raw_zip({"vat.py": GOOD_VAT_SOURCE.encode(), "../evil.py": b"x = 1\n"}, MANIFEST), "vat",
                    "escapes the bundle root"),
    "vat-as-kernel": (None, "kernel", "This is a vat bundle"),
    "import-raises": (vat_from_source("raise RuntimeError('boom at import')\n"), "vat", "boom at import"),
    "sandbox-violation": (vat_from_source("import os\n" + GOOD_VAT_SOURCE), "vat", "does not load"),
    "no-root-object": (vat_from_source("X = 1\n"), "vat", "build_root_object"),
}


def bad_upload(case: str) -> tuple[bytes, str, str]:
    data, kind, words = BAD_UPLOADS[case]
    return (vat_bundle() if data is None else data), kind, words


@pytest.fixture
def published(monkeypatch):
    """Every live event the bundles code publishes: [(topic, event)]."""
    from console import live

    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(live, "publish", lambda topic, event: events.append((topic, event)))
    return events


@pytest.fixture
def swingstore_file(tmp_path, settings):
    """A swing-store with the kernel bundle as the kernel, the counter bundle used by vat v3
    (incarnations 0 and 1) and as a named bundle, and one unused vat bundle."""
    from kernelhost.swingstore import open_swingstore

    path = tmp_path / "swingstore.sqlite"
    kernel, counter = kernel_bundle(), vat_bundle()
    unused = vat_from_source(GOOD_VAT_SOURCE)
    store = open_swingstore(path)
    try:
        for data in (kernel, counter, unused):
            store.kernel.bundles.add_bundle(bundle_id_of(data), data)
        kv = store.kernel.kv
        kv.set("kernelBundleID", bundle_id_of(kernel))
        kv.set("vat.names", json.dumps(["counter"]))
        kv.set("vat.name.counter", "v3")
        kv.set("v3.source", json.dumps({"bundleID": bundle_id_of(counter)}))
        kv.set("v3.options", json.dumps({"name": "counter"}))
        kv.set("namedBundleID.counter", bundle_id_of(counter))
        transcripts = store.kernel.transcripts
        transcripts.init_transcript("v3")
        transcripts.add_item("v3", json.dumps({"d": ["startVat"]}))
        transcripts.rollover_incarnation("v3")
        transcripts.add_item("v3", json.dumps({"d": ["startVat"]}))
        store.host.commit()
    finally:
        store.close()
    settings.SWINGSTORE_PATH = str(path)
    return {"kernel": bundle_id_of(kernel), "counter": bundle_id_of(counter), "unused": bundle_id_of(unused)}
