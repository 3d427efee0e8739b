"""The chain side of the host's ChainPort (kernelhost.host.ports): what the host may read
and the one way it may write (`apply_send`), all inside the open block transaction."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction

from kernelhost.chain.models import Transaction
from kernelhost.chain.types import BlockContext, HostAction

from . import actions
from .chainsends import apply_chain_send
from .exportdata import apply_export_records


class _Savepoint:
    def __init__(self) -> None:
        self.rolled_back = False

    def rollback(self) -> None:
        self.rolled_back = True


class DjangoChainPort:
    def __init__(self, ctx: BlockContext) -> None:
        self.ctx = ctx
        self.height = ctx.height
        self.time_ms = ctx.time_ms

    def apply_send(self, send: dict) -> dict:
        return apply_chain_send(self.ctx, send)

    def apply_export_records(self, records) -> None:
        apply_export_records(self.ctx.node, list(records))

    def kernel_paused(self) -> bool:
        return self.ctx.kernel_paused

    def pending_actions(self, limit: int) -> list[dict]:
        return actions.pending_actions(limit)

    def pending_host_actions(self) -> list[HostAction]:
        return [HostAction.from_dict(a) for a in (self.ctx.node.pending_host_actions or [])]

    def unresolved_swingset_sends(self) -> list[tuple[list[int], str]]:
        rows = (Transaction.objects.filter(awaiting_kernel=True)
                .order_by("height", "index").values_list("height", "index", "data"))
        return [([h, i], d["kpid"]) for h, i, d in rows if d.get("kpid")]

    def crank_budget(self) -> int:
        return self.ctx.node.crank_budget

    def params(self) -> dict:
        return dict(self.ctx.node.params or {})

    @contextmanager
    def savepoint(self):
        marker = _Savepoint()
        with transaction.atomic():
            yield marker
            if marker.rolled_back:
                transaction.set_rollback(True)
