"""`manage.py bundle PATH [--kind vat|kernel] [--entry X] [--out FILE] [--submit]`

Build a deterministic bundle from a source directory (the same bytes on every machine, so
anyone can rebuild a bundle and compare its ID), print its ID and size, optionally write it
to a file and submit it as a `swingset/installBundle` transaction. PATH may also be a ready
bundle `.zip`, which is validated and reported (and submitted with --submit).

- vat: every `*.py` under PATH; the entry is --entry, else `vat.py`, else the only module.
- kernel: PATH is a kernel package directory (like kernelhost/kernel) with a `version.py`
  defining KERNEL_API_VERSION, STATE_SCHEMA_VERSION and KERNEL_VERSION, bundled exactly as
  genesis bundles the kernel (package "kernel", entry "kernel").
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Build a deterministic vat or kernel bundle from a directory; print its ID and size."

    def add_arguments(self, parser):
        parser.add_argument("path", help="source directory (or a bundle .zip)")
        parser.add_argument("--kind", choices=("vat", "kernel"), default="vat")
        parser.add_argument("--entry", help="entry module of a vat bundle (default: vat.py or the only module)")
        parser.add_argument("--out", help="write the bundle zip to this file")
        parser.add_argument("--submit", action="store_true", help="submit a swingset/installBundle transaction")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object instead of text")

    def handle(self, *args, path, kind, entry, out, submit, as_json=False, **options):
        from kernelhost.controller.bundling import bundle_kernel_source, bundle_vat_source
        from kernelhost.swingstore.bundleformat import BundleError, bundle_id_of, validate_bundle

        source = Path(path)
        try:
            if source.is_file():
                data = source.read_bytes()
            elif not source.is_dir():
                raise CommandError(f"{path} is neither a directory nor a bundle .zip")
            elif kind == "kernel":
                if entry:
                    raise CommandError("--entry is for vat bundles; a kernel bundle's entry is its package")
                if not (source / "version.py").is_file():
                    raise CommandError(f"{path} is not a kernel package: it has no version.py "
                                       "(KERNEL_API_VERSION, STATE_SCHEMA_VERSION, KERNEL_VERSION)")
                data = bundle_kernel_source(source)
            else:
                data = bundle_vat_source(source, entry=entry)
            manifest = validate_bundle(data)
        except (BundleError, ValueError, OSError, SyntaxError) as exc:
            raise CommandError(f"cannot bundle {path}: {exc}") from None
        if manifest.kind != kind:
            raise CommandError(f"{path} holds a {manifest.kind} bundle, not a {kind} bundle (use --kind {manifest.kind})")
        bundle_id = bundle_id_of(data)
        result = {"bundleID": bundle_id, "kind": manifest.kind, "size": len(data), "entry": manifest.entry_member,
                  "apiVersion": manifest.api_version, "manifest": manifest.to_dict()}
        if out:
            try:
                Path(out).write_bytes(data)
            except OSError as exc:
                raise CommandError(f"cannot write {out}: {exc}") from None
            result["out"] = out
        if submit:
            from kernelhost.chain.services.txs import submit_tx
            from kernelhost.chain.txshapes import TxInvalid

            try:
                row = submit_tx({"type": "swingset/installBundle", "bundle": base64.b64encode(data).decode("ascii")})
            except TxInvalid as exc:
                raise CommandError(f"the transaction was refused: {exc}") from None
            result["txHash"] = row.tx_hash
        if as_json:
            self.stdout.write(json.dumps(result, sort_keys=True))
            return
        self.stdout.write(f"{bundle_id}\n{manifest.kind} bundle, {len(data)} bytes, entry {manifest.entry_member}, "
                          f"apiVersion {manifest.api_version}")
        if out:
            self.stdout.write(f"written to {out}")
        if submit:
            self.stdout.write(f"submitted as transaction {result['txHash']}")
