"""`manage.py initnode [--config PATH] [--force] [--if-missing]`: genesis of the node."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the node: swing-store with the kernel bundle, static vats, bootstrap; chain genesis."

    def add_arguments(self, parser):
        parser.add_argument("--config", help="genesis config JSON (default kernelhost/demo/genesis.json)")
        parser.add_argument("--force", action="store_true", help="delete the existing node state and start over")
        parser.add_argument("--if-missing", action="store_true", help="do nothing if the node already exists")

    def handle(self, *args, config, force, if_missing, **options):
        from kernelhost.chain.services.node_genesis import NodeExistsError, init_node, node_initialised

        path = settings.SWINGSTORE_PATH
        if if_missing and not force and node_initialised(path):
            self.stdout.write(f"node already initialised ({path}); nothing to do")
            return
        try:
            summary = init_node(path, config_path=config, force=force)
        except NodeExistsError as exc:
            raise CommandError(str(exc)) from None
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(summary, sort_keys=True))
