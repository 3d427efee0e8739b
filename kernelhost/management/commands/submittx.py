"""`manage.py submittx FILE|-`: put one JSON transaction in the mempool; prints its id."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Submit one JSON transaction (file or - for stdin); prints JSON with its id."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        from kernelhost.chain.services.txs import submit_tx
        from kernelhost.chain.txshapes import TxInvalid

        try:
            raw = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        try:
            tx = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 4,300+ digit number, deep nesting
            raise CommandError(f"not JSON: {type(exc).__name__}: {exc}") from None
        try:
            row = submit_tx(tx)
        except TxInvalid as exc:
            self.stdout.write(json.dumps({"ok": False, "code": exc.code, "error": str(exc)}))
            raise CommandError(f"invalid transaction: {exc}") from None
        self.stdout.write(json.dumps({"ok": True, "id": row.tx_hash, "type": row.type, "status": row.status}))
