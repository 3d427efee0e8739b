"""Types shared by the chain, the host and kernelhost.governance (the hook contract).

Governance implements, in kernelhost.governance:
    txs.apply_gov_tx(tx_type: str, body: dict, ctx: BlockContext) -> TxResult
    services.gov_end_block(ctx: BlockContext) -> list[HostAction]
    services.gov_state_hash() -> str
    services.gov_record_upgrade_result(plan_name, height, old_bundle_id, new_bundle_id, ok, reason)
All are called inside the block's database transaction; they must be deterministic (no wall
clock: use ctx.time_ms / ctx.height) and must not commit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

# Result codes of transactions (0 = ok). Stable: the console and tests match on them.
OK = 0
ERR_INVALID = 2  # malformed: unknown type, missing/ill-typed field, negative amount
ERR_UNKNOWN_ACCOUNT = 5
ERR_INSUFFICIENT_FUNDS = 6
ERR_TOO_LARGE = 7
ERR_GOV = 20  # governance refused the tx (its message says why)
ERR_GOV_UNAVAILABLE = 21
ERR_KERNEL_PAUSED = 30
ERR_INTERNAL = 99


@dataclass(frozen=True)
class TxResult:
    code: int
    message: str = ""
    data: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == OK


@dataclass(frozen=True)
class HostAction:
    """Something governance asks the host to do to the kernel, between blocks.

    kind "resumeKernel": params {"remedy": "retry"|"terminateVat"|"skipAction"|"upgradeKernel",
    "vatID"?, "actionID"?, "bundleID"?}. kind "upgradeKernel": params {"bundleID"}.
    """

    kind: Literal["resumeKernel", "upgradeKernel"]
    params: dict = field(default_factory=dict)
    proposal_id: int | None = None
    plan_name: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> HostAction:
        return cls(kind=data["kind"], params=dict(data.get("params") or {}),
                   proposal_id=data.get("proposal_id"), plan_name=data.get("plan_name"))


@dataclass
class BlockContext:
    """What a block's handlers may know: its height and time, and the node state row
    (locked for the block). `replaying` is True when the swing-store already committed this
    block and only the chain re-executes it; governance behaves the same either way."""

    height: int
    time_ms: int
    node: Any  # kernelhost.chain.models.NodeState
    replaying: bool = False

    @property
    def block_time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ms / 1000, tz=UTC)

    @property
    def kernel_paused(self) -> bool:
        return self.node.kernel_state == "paused"

    @property
    def kernel_bundle_id(self) -> str:
        return self.node.kernel_bundle_id
