"""`manage.py failpoints`: the failpoint names KERNELHOST_FAILPOINTS accepts."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "List the failpoints (KERNELHOST_FAILPOINTS=name=crash|crash@N|raise|raise@N,...)."

    def handle(self, *args, **options):
        from kernelhost.failpoints import FAILPOINTS

        width = max(map(len, FAILPOINTS))
        for name, description in FAILPOINTS.items():
            self.stdout.write(f"{name:<{width}}  {description}")
        self.stdout.write("\nKERNELHOST_FAILPOINTS=\"name=action,...\"; action: crash (exit 86), crash@N, raise, raise@N")
