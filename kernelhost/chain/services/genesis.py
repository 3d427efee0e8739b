"""Chain genesis: the NodeState row, accounts, balances, validators and the export-data the
swing-store produced while the kernel was initialised."""

from __future__ import annotations

from django.db import transaction

from kernelhost.chain.models import (
    Account,
    Action,
    Balance,
    Block,
    ExportDataEntry,
    NodeState,
    StorageEntry,
    Transaction,
    Validator,
)
from kernelhost.chain.txshapes import parse_amount

from . import bank
from .apphash import compute_app_hash
from .exportdata import apply_export_records
from .govhooks import gov_init_genesis

CHAIN_TABLES = (Transaction, Block, Action, ExportDataEntry, StorageEntry, Balance, Account, Validator, NodeState)


def chain_exists() -> bool:
    return NodeState.objects.filter(pk=1).exists()


def wipe_chain() -> None:
    for model in CHAIN_TABLES:
        model.objects.all().delete()


@transaction.atomic
def init_chain(chain_config: dict, *, kernel_bundle_id: str, export_records: list) -> NodeState:
    """`chain_config`: {"chainID", "genesisTimeMs", "crankBudget"?, "params"?,
    "accounts": [{"address", "balances": {denom: amount}}], "validators": [{"address", "name", "power"}]}"""
    wipe_chain()
    node = NodeState.objects.create(
        pk=1, chain_id=str(chain_config.get("chainID", "kernel-console-1")),
        genesis_time_ms=int(chain_config.get("genesisTimeMs", 1_700_000_000_000)),
        kernel_bundle_id=kernel_bundle_id or "",
        crank_budget=int(chain_config.get("crankBudget", 2000)),
        params=dict(chain_config.get("params") or {}),
    )
    node.last_block_time_ms = node.genesis_time_ms
    for account in chain_config.get("accounts", []):
        bank.create_account(account["address"])
        for denom, amount in sorted((account.get("balances") or {}).items()):
            bank.credit(account["address"], denom, parse_amount(amount))
    for validator in chain_config.get("validators", []):
        power = int(validator["power"])
        if power <= 0:
            raise ValueError(f"validator {validator['address']} needs a positive power")
        Validator.objects.create(address=validator["address"], name=validator.get("name", ""), power=power)
    apply_export_records(node, export_records)
    gov_init_genesis(chain_config.get("gov"))
    node.app_hash = compute_app_hash(node, height=0, time_ms=node.genesis_time_ms, prev_app_hash="")
    node.save()
    return node
