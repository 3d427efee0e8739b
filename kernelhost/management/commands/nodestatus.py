"""`manage.py nodestatus --json`: the node status object of DESIGN §3."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Print the node status (chain height, app hash, kernel state, vats, queues)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object (the only format)")

    def handle(self, *args, **options):
        from kernelhost.status import node_status

        try:
            status = node_status()
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(status, sort_keys=True))
