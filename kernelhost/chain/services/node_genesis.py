"""Genesis of a whole node: the swing-store (kernel bundle, static vats, bootstrap queued by
kernelhost.controller.initialize_swingset) committed first, then the chain (accounts,
validators, the export-data the kernel's initialisation produced), like every block."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kernelhost.host import kernelport
from kernelhost.host.host import HEIGHT_KEY
from kernelhost.host.upgrade import KERNEL_BUNDLE_KEY

from .genesis import chain_exists, init_chain

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEFAULT_CONFIG = DEMO_DIR / "genesis.json"
DEFAULT_CHAIN_CONFIG = DEMO_DIR / "chain-genesis.json"


class NodeExistsError(RuntimeError):
    pass


def load_config(path: str | os.PathLike | None) -> tuple[dict, dict]:
    """(kernel config, chain config). The chain section is the config's "chain" key, else
    kernelhost/demo/chain-genesis.json."""
    config_path = Path(path) if path else DEFAULT_CONFIG
    kernel_config = json.loads(config_path.read_text()) if config_path.exists() else {}
    if path and not config_path.exists():
        raise FileNotFoundError(f"no genesis config at {config_path}")
    if kernel_config:
        kernel_config.setdefault("baseDir", str(config_path.resolve().parent))  # vat sources are relative
    chain_config = kernel_config.pop("chain", None)
    if chain_config is None:
        chain_config = json.loads(DEFAULT_CHAIN_CONFIG.read_text())
    return kernel_config, chain_config


def _store_files(path: str) -> list[Path]:
    base = Path(path)
    return [base, Path(f"{path}-wal"), Path(f"{path}-shm")]


def node_initialised(swingstore_path: str) -> bool:
    return chain_exists() and Path(swingstore_path).exists()


def init_node(swingstore_path: str, *, config_path=None, force: bool = False) -> dict:
    from kernelhost.swingstore import open_swingstore

    if node_initialised(swingstore_path) and not force:
        raise NodeExistsError("the node is already initialised (use --force to start over)")
    kernel_config, chain_config = load_config(config_path)
    # A swing-store without a chain (a crash between the two genesis commits) is garbage.
    for file in _store_files(swingstore_path):
        if file.exists():
            file.unlink()
    records: dict[str, str | None] = {}
    store = open_swingstore(swingstore_path, export_callback=lambda batch: records.update(batch))
    try:
        kernelport.controller_module().initialize_swingset(store.kernel, kernel_config)
        kernel = store.kernel
        if not kernel.in_crank:  # flush export records initialisation left pending
            kernel.start_crank()
            kernel.end_crank()
        store.host.kv.set(HEIGHT_KEY, "0")
        bundle_id = kernel.kv.get(KERNEL_BUNDLE_KEY) or ""
        store.host.commit()
    finally:
        store.close()
    node = init_chain(chain_config, kernel_bundle_id=bundle_id, export_records=sorted(records.items()))
    return {"chainID": node.chain_id, "height": 0, "appHash": node.app_hash, "kernelBundleID": bundle_id,
            "exportRecords": len(records)}
