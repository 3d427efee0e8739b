"""The operator's "can you handle upgrade X?" check for a software release (seed 001).

A kernel upgrade is scheduled on chain with the bundle ID every node must switch to. An
operator who installed a new release runs this before the plan's height: it re-bundles the
kernel from the installed source and accepts only if that bundle is exactly the plan's
bundle. The bundle then reaches the swing-store in-band (an installBundle transaction, so every
node's state changes the same way) and the host switches kernels at the plan's height.
"""

from __future__ import annotations

import base64
import json

from django.core.management.base import BaseCommand, CommandError

from kernelhost.chain.selectors import bundle_installed, node_state
from kernelhost.chain.services.txs import submit_tx
from kernelhost.controller.bundling import bundle_kernel_source
from kernelhost.swingstore.bundleformat import bundle_id_of


class Command(BaseCommand):
    help = "Check that the installed kernel source is the bundle a scheduled upgrade plan names, and install it in-band."

    def add_arguments(self, parser):
        parser.add_argument("--upgrade-name", required=True, help="the name of the scheduled upgrade plan")
        parser.add_argument("--source", default=None, help="kernel source directory (default: the installed kernelhost/kernel)")

    def handle(self, *args, upgrade_name, source, **options):
        from kernelhost.governance.models import UpgradePlan

        node = node_state()
        if node is None:
            raise CommandError("no node here: run initnode first")
        plan = UpgradePlan.objects.filter(name=upgrade_name).order_by("-seq").first()
        if plan is None:
            raise CommandError(f"the chain has no upgrade plan named {upgrade_name!r}: refusing")
        if plan.status != UpgradePlan.SCHEDULED:
            raise CommandError(f"plan {upgrade_name!r} is {plan.status}, not scheduled: refusing")
        if node.height >= plan.height:
            raise CommandError(f"plan {upgrade_name!r} was due at height {plan.height}; the chain is at {node.height}")
        data = bundle_kernel_source(source)
        built = bundle_id_of(data)
        if built != plan.bundle_id:
            raise CommandError(f"this release's kernel is {built}, but plan {upgrade_name!r} switches to "
                               f"{plan.bundle_id}: this node cannot handle the upgrade; install the matching release")
        report = {"plan": upgrade_name, "height": plan.height, "chainHeight": node.height, "bundleID": built}
        if bundle_installed(built):
            report["installed"] = True
        else:
            tx = submit_tx({"type": "swingset/installBundle", "bundle": base64.b64encode(data).decode()})
            report.update(installed=False, installTx=tx.tx_hash)
        self.stdout.write(json.dumps(report))
