"""The calls into kernelhost.governance (owned by the governance part), resolved lazily so the
chain runs without it: gov txs then fail with "governance module unavailable", the end-block
hook does nothing and the governance term of the app hash is empty."""

from __future__ import annotations

import importlib
import logging

from kernelhost.chain.types import ERR_GOV_UNAVAILABLE, BlockContext, HostAction, TxResult

log = logging.getLogger(__name__)
_MISSING = object()
_cache: dict[str, object] = {}


def _hook(module: str, name: str):
    key = f"{module}.{name}"
    found = _cache.get(key)
    if found is None:
        try:
            found = getattr(importlib.import_module(f"kernelhost.governance.{module}"), name)
        except ImportError as exc:
            # Only "the module is not there" counts as absent; a broken governance module
            # must fail loudly, or nodes would silently disagree.
            if not (exc.name or "").startswith("kernelhost.governance"):
                raise
            found = _MISSING
        except AttributeError:
            found = _MISSING
        _cache[key] = found
    return None if found is _MISSING else found


def apply_gov_tx(tx_type: str, body: dict, ctx: BlockContext) -> TxResult:
    hook = _hook("txs", "apply_gov_tx")
    if hook is None:
        return TxResult(ERR_GOV_UNAVAILABLE, "governance module unavailable")
    return hook(tx_type, body, ctx)


def gov_end_block(ctx: BlockContext) -> list[HostAction]:
    hook = _hook("services", "gov_end_block")
    if hook is None:
        return []
    actions = hook(ctx) or []
    return [a if isinstance(a, HostAction) else HostAction.from_dict(a) for a in actions]


def gov_state_hash() -> str:
    hook = _hook("services", "gov_state_hash")
    return "" if hook is None else str(hook())


def gov_record_upgrade_result(plan_name: str | None, height: int, old_bundle_id: str, new_bundle_id: str,
                              ok: bool, reason: str) -> None:
    hook = _hook("services", "gov_record_upgrade_result")
    if hook is not None:
        hook(plan_name, height, old_bundle_id, new_bundle_id, ok, reason)


def gov_init_genesis(params: dict | None) -> None:
    hook = _hook("services", "gov_init_genesis")
    if hook is not None:
        hook(params)


def gov_record_execution(proposal_id: int, ok: bool, message: str, height: int) -> None:
    hook = _hook("services", "gov_record_execution")
    if hook is not None:
        hook(proposal_id, ok, message, height)
