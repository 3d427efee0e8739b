"""A small real swing-store to export and then import mutated: two vats, transcripts with span
rollovers, two bundles. Shared by the hypothesis importer tests (test_fuzz_import.py) and the
atheris harness (fuzz/fuzz_import.py), so both fuzz the same export."""

from __future__ import annotations

import json
from pathlib import Path

from kernelhost.swingstore import export_swingstore, open_swingstore
from kernelhost.swingstore.bundleformat import bundle_id_of, make_bundle_from_files


def _bundle(marker: str) -> bytes:
    return make_bundle_from_files({"v/__init__.py": f"M = {marker!r}\n".encode(),
                                   "v/vat.py": b"def build_root_object(vp, p, b):\n    return None\n"},
                                  kind="vat", entry="v.vat", api_version=1)


def sample_export(path: Path) -> tuple[list[list[str]], dict[str, bytes]]:
    """Build the store at `path` (a new file) and return its export: (records, artifacts)."""
    s = open_swingstore(path, export_callback=lambda records: None)
    ks = s.kernel
    ks.transcripts.init_transcript("v1")
    ks.transcripts.init_transcript("v2")
    for n in range(1, 10):
        ks.start_crank()
        vat = "v1" if n % 3 else "v2"
        ks.kv.set("crankNumber", str(n))
        ks.kv.set(f"{vat}.vs.count", str(n))
        ks.transcripts.add_item(vat, json.dumps({"d": ["message", n], "sc": []}))
        if n % 4 == 0:
            ks.transcripts.rollover_span(vat)
        ks.emit_crank_hashes()
        ks.end_crank()
    for marker in ("a", "b"):
        data = _bundle(marker)
        ks.bundles.add_bundle(bundle_id_of(data), data)
    s.host.commit()
    s.close()
    export_data, artifacts = export_swingstore(path)
    return [list(e) for e in export_data], {name: bytes(data) for name, data in dict(artifacts).items()}
