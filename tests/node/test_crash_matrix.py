"""The crash matrix (issue 6, seed 003): crash anywhere, restart, continue — and end in the
same state as a node that never crashed.

One prepared node (genesis from tests/node/genesis-test.json, a scripted workload in the
mempool: bank sends, swingset sends whose vats make chain-sends through the bridge device,
a dynamic vat creation, an installBundle, multi-crank work over a small crank budget, an
inbound mailbox delivery, and a null kernel upgrade as a pending host action) is copied per
case. The reference runs 10 blocks with no failpoint. Every case runs with one failpoint
armed until the process dies with exit 86, restarts without it to block 10, and must match
the reference: app hash at every height, balances, storage, every action consumed exactly
once at the same height, the same transaction results.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from . import nodekit

pytestmark = pytest.mark.slow

BLOCKS = 10
RUN = ("runnode", "--until-height", str(BLOCKS), "--logical-clock", "--block-time-ms", "1000", "--max-txs", "3",
       "--quiet")

# (failpoint spec); kernel.after_crank at several crank numbers.
CASES = [
    "block.after_proposal=crash@4",
    "kernel.after_crank=crash@1",
    "kernel.after_crank=crash@9",
    "kernel.after_crank=crash@23",
    "kernel.mid_delivery=crash@2",
    "kernel.mid_delivery=crash@5",
    "host.before_swingstore_commit=crash@3",
    "host.after_swingstore_commit=crash@1",
    "host.after_swingstore_commit=crash@2",
    "host.after_swingstore_commit=crash@5",
    "chain.after_commit=crash@4",
    "kernel.upgrade.after_shutdown=crash",
]


def _workload(payer_bundle: str) -> list[dict]:
    send = lambda vat, method, *args: {"type": "swingset/send", "vat": vat, "method": method,  # noqa: E731
                                       "args": list(args)}
    return [
        {"type": "bank/send", "from": "alice", "to": "bob", "amount": "100", "denom": "ucon"},
        send("payer", "give", "bob", 7),
        send("bank-watcher", "query_balance", "alice", "ucon"),
        send("bootstrap", "make_counter", "c1", 3),
        {"type": "swingset/installBundle", "bundle": payer_bundle},
        send("bootstrap", "relay", 12),
        {"type": "bank/send", "from": "bob", "to": "carol", "amount": "50", "denom": "ucon"},
        send("bootstrap", "call", "c1", "increment", [2]),
        send("payer", "store", "a/b", "v1"),
        send("payer", "grab", "carol", 10),
        {"type": "bank/send", "from": "carol", "to": "alice", "amount": "1", "denom": "ucon"},
        {"type": "swingset/deliverInbound", "peer": "peer1", "messages": [[1, "hello"]], "ack": 0},
        send("payer", "give", "alice", 3),
        {"type": "bank/send", "from": "alice", "to": "nobody", "amount": "1", "denom": "ucon"},
    ]


NULL_UPGRADE = (
    "from kernelhost.chain.models import NodeState\n"
    "n = NodeState.objects.get(pk=1)\n"
    "n.pending_host_actions = [{'kind': 'upgradeKernel', 'params': {'bundleID': n.kernel_bundle_id},"
    " 'proposal_id': None, 'plan_name': 'null-upgrade'}]\n"
    "n.save()\n"
)


# SQLite always; PostgreSQL too when the test run has one (CI sets DATABASE_URL).
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("DATABASE_URL", "").startswith("postgres") else [])


@pytest.fixture(scope="module", params=BACKENDS)
def prepared(request, tmp_path_factory) -> Path:
    node = nodekit.prepare_node(tmp_path_factory.mktemp(f"prepared-{request.param}") / "node",
                                postgres=request.param == "postgresql")
    nodekit.shell(node, NULL_UPGRADE)
    bundle = nodekit.vat_bundle_b64(Path(__file__).parent / "vats" / "payer")
    nodekit.submit_all(node, _workload(bundle))
    yield node
    nodekit.drop_postgres(node)


@pytest.fixture(scope="module")
def reference(prepared, tmp_path_factory) -> dict:
    node = nodekit.copy_node(prepared, tmp_path_factory.mktemp("reference") / "node")
    try:
        nodekit.must(nodekit.manage(node, *RUN))
        return {"hashes": nodekit.app_hashes(node), "state": nodekit.chain_state(node),
                "mirror": nodekit.export_data_mirror(node), "exported": nodekit.swingstore_export_data(node)}
    finally:
        nodekit.drop_postgres(node)


def test_chain_mirrors_the_swingstore_export_data(reference):
    """The chain's export-data (the IAVL role, covered by the app hash) is exactly what a
    swing-store export says: a state-sync importer could verify the artifacts against it."""
    assert reference["mirror"] == reference["exported"]


def test_reference_run_does_the_workload(reference):
    hashes, state = reference["hashes"], reference["state"]
    assert sorted(hashes) == list(range(1, BLOCKS + 1))
    assert state["height"][0] == BLOCKS and state["height"][2] == "running"
    actions = state["actions"]
    assert actions and all(a[3] == "consumed" for a in actions), actions
    assert len({a[1] for a in actions}) == len(actions)
    balances = {(a, d): int(m) for a, d, m in state["balances"]}
    # alice: 1e6 - 100 + 1 (carol) + 3 (payer.give); bob: 1e6 + 100 + 7 - 50; carol: 5000 + 50 - 10 - 1
    assert balances[("alice", "ucon")] == 1_000_000 - 100 + 1 + 3
    assert balances[("bob", "ucon")] == 1_000_000 + 100 + 7 - 50
    assert balances[("carol", "ucon")] == 5000 + 50 - 10 - 1
    assert state["storage"] == [("a/b", "v1")]
    results = {(h, i): (t, c, d) for h, i, t, c, d in state["txs"]}
    codes = sorted(c for _t, c, _d in results.values())
    assert codes.count(5) == 1  # the send to an unknown account, and nothing else, failed
    relay = [(h, d) for (h, _i), (t, c, d) in results.items() if d.get("value") == sum(range(12))]
    assert relay, "bootstrap.relay(12) should have finished (over several blocks: crank budget 6)"
    counter = [d for t, c, d in results.values() if d.get("value") == 5]
    assert counter, "the dynamic counter vat c1 (start 3) should have answered increment(2) with 5"


def _crash_and_recover(prepared: Path, base: Path, spec: str) -> tuple[str, dict, dict, str]:
    node = nodekit.copy_node(prepared, base / spec.replace("=", "_").replace("@", "_").replace(".", "_"))
    crashed = nodekit.manage(node, *RUN, failpoints=spec)
    assert crashed.returncode == nodekit.CRASH_EXIT, (
        f"{spec}: expected a crash (exit 86), got {crashed.returncode}\n{crashed.stdout}\n{crashed.stderr}")
    try:
        recovered = nodekit.manage(node, *RUN)
        assert recovered.returncode == 0, f"{spec}: restart failed\n{recovered.stdout}\n{recovered.stderr}"
        if spec.startswith("host.after_swingstore_commit"):
            # the crash fell between the two commits: the restart must have replayed a block
            assert nodekit.replayed_heights(node), f"{spec}: no block was replayed after the restart"
        assert nodekit.export_data_mirror(node) == nodekit.swingstore_export_data(node), spec
        return spec, nodekit.app_hashes(node), nodekit.chain_state(node), crashed.stderr
    finally:
        nodekit.drop_postgres(node)


def test_crash_matrix(prepared, reference, tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda spec: _crash_and_recover(prepared, tmp_path, spec), CASES))
    for spec, hashes, state, _stderr in outcomes:
        diverged = [h for h in sorted(reference["hashes"]) if hashes.get(h) != reference["hashes"][h]]
        assert not diverged, f"{spec}: app hash differs from the uncrashed run at heights {diverged}"
        for key in ("height", "balances", "actions", "storage", "txs", "export"):
            assert state[key] == reference["state"][key], f"{spec}: {key} differs after crash + restart"


# Clean stops (no crash): the runner stops after block k and a new process continues. The
# host runs the kernel with controller.run(budget) (flush units of many cranks); a restart
# must not change the activity hash (it used to, from the block after the stop on).
CLEAN_STOPS = [(2,), (3, 6), (1, 4, 5, 8)]


def _stop_and_continue(prepared: Path, base: Path, stops: tuple[int, ...]) -> tuple:
    node = nodekit.copy_node(prepared, base / ("stops_" + "_".join(map(str, stops))))
    try:
        for stop in stops:
            run = list(RUN)
            run[run.index("--until-height") + 1] = str(stop)
            nodekit.must(nodekit.manage(node, *run))
        nodekit.must(nodekit.manage(node, *RUN))
        return stops, nodekit.app_hashes(node), nodekit.chain_state(node)
    finally:
        nodekit.drop_postgres(node)


def test_clean_stops_and_restarts_match_the_reference(prepared, reference, tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda stops: _stop_and_continue(prepared, tmp_path, stops), CLEAN_STOPS))
    for stops, hashes, state in outcomes:
        diverged = [h for h in sorted(reference["hashes"]) if hashes.get(h) != reference["hashes"][h]]
        assert not diverged, f"stops {stops}: app hash differs from the uninterrupted run at heights {diverged}"
        assert state == reference["state"], f"stops {stops}: chain state differs"


def test_replay_against_a_different_chain_state_stops_with_the_send_named(prepared, tmp_path):
    """Crash between the two commits, then change the chain DB behind the node's back: the
    replayed VBANK_GIVE answers differently, and the node refuses to go on."""
    node = nodekit.copy_node(prepared, tmp_path / "tampered")
    try:
        crashed = nodekit.manage(node, *RUN, failpoints="host.after_swingstore_commit=crash@2")
        assert crashed.returncode == nodekit.CRASH_EXIT, crashed.stderr
        nodekit.shell(node, "from kernelhost.chain.models import Balance\n"
                            "Balance.objects.filter(address='bob', denom='ucon').update(amount=1)\n")
        restarted = nodekit.manage(node, *RUN)
        assert restarted.returncode == 1
        assert "fatal: replaying chain-send #" in restarted.stderr and "VBANK_GIVE" in restarted.stderr
        assert max(nodekit.app_hashes(node)) == 1  # block 2 never committed on the chain
    finally:
        nodekit.drop_postgres(node)


PAUSED_CASES = [
    "kernel.mid_delivery=crash@1",
    "host.before_swingstore_commit=crash@1",
    "host.after_swingstore_commit=crash@1",
    "chain.after_commit=crash@1",
    "host.after_swingstore_commit=crash@2",
]
PAUSED_RUN = ("runnode", "--until-height", "4", "--logical-clock", "--block-time-ms", "1000", "--max-txs", "3",
              "--quiet")


@pytest.fixture(scope="module")
def paused_prepared(tmp_path_factory) -> Path:
    node = nodekit.prepare_node(tmp_path_factory.mktemp("paused-prepared") / "node")
    nodekit.submit_all(node, [
        {"type": "bank/send", "from": "alice", "to": "bob", "amount": "10", "denom": "ucon"},
        {"type": "swingset/send", "vat": "bomb", "method": "explode", "args": []},
        {"type": "swingset/send", "vat": "payer", "method": "give", "args": ["bob", 1]},
        {"type": "bank/send", "from": "bob", "to": "carol", "amount": "3", "denom": "ucon"},
        {"type": "swingset/send", "vat": "payer", "method": "give", "args": ["bob", 2]},
    ])
    return node


def test_crash_around_a_kernel_panic_ends_paused_the_same_way(paused_prepared, tmp_path):
    """The panic block and the paused blocks after it survive crashes like any other block:
    same app hashes, the kernel paused at the same height for the same action."""
    ref = nodekit.copy_node(paused_prepared, tmp_path / "ref")
    nodekit.must(nodekit.manage(ref, *PAUSED_RUN))
    reference = {"hashes": nodekit.app_hashes(ref), "state": nodekit.chain_state(ref)}
    assert reference["state"]["height"][2] == "paused"
    codes = [c for _h, _i, t, c, _d in reference["state"]["txs"]]
    assert 30 in codes  # the swingset send after the panic was refused

    def case(spec):
        node = nodekit.copy_node(paused_prepared, tmp_path / spec.replace("=", "_").replace("@", "_"))
        crashed = nodekit.manage(node, *PAUSED_RUN, failpoints=spec)
        assert crashed.returncode == nodekit.CRASH_EXIT, f"{spec}: {crashed.returncode}\n{crashed.stderr}"
        nodekit.must(nodekit.manage(node, *PAUSED_RUN))
        return spec, nodekit.app_hashes(node), nodekit.chain_state(node)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for spec, hashes, state in pool.map(case, PAUSED_CASES):
            assert hashes == reference["hashes"], f"{spec}: app hashes differ"
            assert state == reference["state"], f"{spec}: chain state differs"
