"""Crash during a real kernel switch (issue 7): the node dies at
`kernel.upgrade.after_shutdown` (old controller shut down, new kernel not started) while
switching to a DIFFERENT kernel bundle, restarts, and ends on one consistent kernel with the
same app hash at every height as a node that never crashed. (The crash matrix covers the
same failpoint with a null upgrade: same bundle ID.)"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from kernelhost.controller.bundling import KERNEL_SOURCE_DIR, bundle_kernel_source
from kernelhost.swingstore import open_swingstore
from kernelhost.swingstore.bundleformat import bundle_id_of

from . import nodekit

pytestmark = pytest.mark.slow

RUN = ("runnode", "--logical-clock", "--block-time-ms", "1000", "--max-txs", "3", "--quiet")


def _until(height: int) -> tuple[str, ...]:
    return (*RUN, "--until-height", str(height))


def _kernel_bundle(tmp: Path) -> bytes:
    src = tmp / "kernel-v2"
    shutil.copytree(KERNEL_SOURCE_DIR, src, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
    version = src / "version.py"
    version.write_text(version.read_text().replace('KERNEL_VERSION = "', 'KERNEL_VERSION = "v2-'))
    return bundle_kernel_source(src)


def _kernel_bundle_in_store(node: Path) -> str:
    store = open_swingstore(node / "swingstore.sqlite", readonly=True)
    try:
        return store.kernel.kv.get("kernelBundleID")
    finally:
        store.close()


@pytest.fixture(scope="module")
def upgrading(tmp_path_factory) -> tuple[Path, str]:
    """A node at height 2 with the v2 kernel installed and an upgradeKernel host action
    pending (it runs at the start of block 3), and swingset work in the mempool after it."""
    base = tmp_path_factory.mktemp("upgrade-crash")
    node = nodekit.prepare_node(base / "node")
    data = _kernel_bundle(base)
    new_id = bundle_id_of(data)
    nodekit.submit_all(node, [{"type": "swingset/installBundle", "bundle": base64.b64encode(data).decode()},
                              {"type": "bank/send", "from": "alice", "to": "bob", "amount": "5", "denom": "ucon"}])
    nodekit.must(nodekit.manage(node, *_until(2)))
    action = {"kind": "upgradeKernel", "params": {"bundleID": new_id}, "proposal_id": None, "plan_name": "v2"}
    nodekit.shell(node, "from kernelhost.chain.models import NodeState\n"
                        "n = NodeState.objects.get(pk=1)\n"
                        f"n.pending_host_actions = [{action!r}]\n"
                        "n.save()\n")
    send = lambda vat, method, *args: {"type": "swingset/send", "vat": vat, "method": method,  # noqa: E731
                                       "args": list(args)}
    nodekit.submit_all(node, [send("payer", "give", "bob", 3), send("bootstrap", "make_counter", "c9", 1),
                              send("bootstrap", "call", "c9", "increment", [4]),
                              {"type": "bank/send", "from": "bob", "to": "carol", "amount": "2", "denom": "ucon"}])
    return node, new_id


def test_crash_during_the_kernel_switch_ends_on_one_consistent_kernel(upgrading, tmp_path):
    prepared, new_id = upgrading
    ref = nodekit.copy_node(prepared, tmp_path / "ref")
    nodekit.must(nodekit.manage(ref, *_until(7)))
    reference = {"hashes": nodekit.app_hashes(ref), "state": nodekit.chain_state(ref)}
    assert _kernel_bundle_in_store(ref) == new_id
    assert reference["state"]["height"][2] == "running"
    assert all(a[3] == "consumed" for a in reference["state"]["actions"]), reference["state"]["actions"]

    node = nodekit.copy_node(prepared, tmp_path / "crashed")
    crashed = nodekit.manage(node, *_until(7), failpoints="kernel.upgrade.after_shutdown=crash")
    assert crashed.returncode == nodekit.CRASH_EXIT, crashed.stderr
    assert max(nodekit.app_hashes(node)) == 2  # block 3 (the switch) never committed
    nodekit.must(nodekit.manage(node, *_until(7)))
    assert _kernel_bundle_in_store(node) == new_id
    hashes = nodekit.app_hashes(node)
    diverged = [h for h in sorted(reference["hashes"]) if hashes.get(h) != reference["hashes"][h]]
    assert not diverged, f"app hash differs from the uncrashed run at heights {diverged}"
    assert nodekit.chain_state(node) == reference["state"]
    assert nodekit.export_data_mirror(node) == nodekit.swingstore_export_data(node)
    with nodekit._db(node) as conn:
        (bundle,) = conn.execute("SELECT kernel_bundle_id FROM chain_nodestate").fetchone()
    assert bundle == new_id
