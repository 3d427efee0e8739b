"""Fixtures for the node pages: a real node (demo genesis, real kernel, real chain rows) on a
tmp swing-store, and a synthetic swing-store with a very long transcript."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from console.roles import OPERATORS

NODE_URLS = "tests.consoleweb.urls"


class NodeKit:
    """A node on its own swing-store file, driven block by block in this process."""

    def __init__(self, path: str) -> None:
        self.path = path

    def send(self, vat: str, method: str, *args):
        from kernelhost.chain.services.txs import submit_tx

        return submit_tx({"type": "swingset/send", "vat": vat, "method": method, "args": list(args)})

    def run(self, blocks: int = 1, publish=None) -> int:
        from kernelhost.runner import run_node

        return run_node(stop=threading.Event(), blocks=blocks, logical_clock=True,
                        publish=publish or (lambda topic, event: None))

    def queue_directly(self, *messages: tuple[str, str, list]) -> None:
        """Put messages on the kernel run-queue and commit them without running a crank (a
        node that stopped with work queued): the run-queue page then has items to show."""
        from kernelhost.controller import make_controller
        from kernelhost.swingstore import open_swingstore

        store = open_swingstore(self.path)
        try:
            controller = make_controller(store.kernel)
            for vat, method, args in messages:
                controller.queue_to_vat_root(vat, method, args)
            store.host.commit()
            controller.shutdown()
        finally:
            store.close()


@pytest.fixture
def node_path(tmp_path, settings) -> str:
    path = str(tmp_path / "swingstore.sqlite")
    settings.SWINGSTORE_PATH = path
    return path


TEST_GENESIS = Path(__file__).resolve().parents[1] / "node" / "genesis-test.json"  # has a critical "bomb" vat
# The demo's vats in a fixed configuration (the demo genesis itself changes as the demo grows).
CONSOLE_GENESIS = Path(__file__).resolve().with_name("genesis-console.json")


def make_node(path: str, config: str | Path | None = CONSOLE_GENESIS) -> NodeKit:
    from kernelhost.chain.services.node_genesis import init_node

    init_node(path, config_path=config)
    return NodeKit(path)


@pytest.fixture
def node(db, node_path) -> NodeKit:
    """The demo's vats (CONSOLE_GENESIS), bootstrap, then three counter increments in block 3 (real transcripts,
    c-lists, vatstore, tx results, chain-sends); the chain is at height 4."""
    kit = make_node(node_path)
    kit.run(blocks=2)
    for n in (1, 2, 3):
        kit.send("counter", "increment", n)
    kit.run(blocks=2)
    return kit


@pytest.fixture
def operator_client(client, role_user):
    client.force_login(role_user(OPERATORS))
    return client


@pytest.fixture
def node_urls(settings):
    settings.ROOT_URLCONF = NODE_URLS


LONG_VAT = "v1"
LONG_METHOD_EVERY = 1000  # every 1000th delivery calls "rare"


_LONG_STORES: dict[tuple, str] = {}


def long_transcript_store(entries: int, *, rollover_at=(), upgrade_at=()) -> str:
    """A long-transcript swing-store built once per test process and shared (read-only) by
    the page and browser tests."""
    key = (entries, tuple(rollover_at), tuple(upgrade_at))
    if key not in _LONG_STORES:
        directory = tempfile.mkdtemp(prefix="kc-long-transcript-")
        atexit.register(shutil.rmtree, directory, True)
        path = str(Path(directory) / "swingstore.sqlite")
        build_long_transcript(path, entries, rollover_at=rollover_at, upgrade_at=upgrade_at)
        _LONG_STORES[key] = path
    return _LONG_STORES[key]


def build_long_transcript(path: str | Path, entries: int, *, rollover_at=(), upgrade_at=()) -> None:
    """A swing-store holding one vat with `entries` transcript items, written straight
    through the swing-store API in one transaction (no kernel: fast)."""
    from kernelhost.swingstore import open_swingstore

    store = open_swingstore(str(path))
    try:
        kv = store.kernel.kv
        kv.set("vat.names", json.dumps(["long"]))
        kv.set("vat.name.long", LONG_VAT)
        kv.set(f"{LONG_VAT}.options", json.dumps({"name": "long"}))
        kv.set(f"{LONG_VAT}.source", json.dumps({"bundleID": "b1-" + "0" * 128}))
        kv.set("runQueue", "[1,1]")
        kv.set("crankNumber", str(entries))
        transcripts = store.kernel.transcripts
        transcripts.init_transcript(LONG_VAT)
        rollovers, upgrades = set(rollover_at), set(upgrade_at)
        for position in range(entries):
            if position in rollovers:
                transcripts.rollover_span(LONG_VAT)
            if position in upgrades:
                transcripts.rollover_incarnation(LONG_VAT)
            method = "rare" if position % LONG_METHOD_EVERY == 7 else "tick"
            body = "#" + json.dumps([method, [position]])
            item = {"d": ["message", "o+0", {"methargs": {"body": body, "slots": []}, "result": "p-60"}],
                    "sc": [{"s": ["vatstoreSet", f"k{position % 10}", str(position)], "r": ["ok", None]}],
                    "r": {"status": "ok", "computrons": 1100}}
            transcripts.add_item(LONG_VAT, json.dumps(item, separators=(",", ":")))
        store.host.kv.set("host.height", "1")
        store.host.commit()
    finally:
        store.close()
