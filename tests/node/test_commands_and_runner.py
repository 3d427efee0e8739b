"""Commands (submittx, nodestatus, failpoints), failpoint parsing, the runner's publishing
and its one-runner lock."""

from __future__ import annotations

import io
import json
import os
import threading

import pytest
from django.core.management import CommandError, call_command

from kernelhost import failpoints
from kernelhost.chain.models import Block, Transaction
from kernelhost.chain.services.node_genesis import init_node
from kernelhost.chain.txshapes import TxInvalid
from kernelhost.chain.types import ERR_INVALID, ERR_TOO_LARGE, ERR_UNKNOWN_ACCOUNT
from kernelhost.models import RunnerHeartbeat
from kernelhost.runner import RunnerLockedError, run_node, runner_lock

from .nodekit import TEST_GENESIS


@pytest.fixture
def node(db, settings, tmp_path):
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    init_node(settings.SWINGSTORE_PATH, config_path=TEST_GENESIS)
    return tmp_path


def test_submittx_prints_the_id_and_refuses_bad_input_clearly(node, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(
        {"type": "bank/send", "from": "alice", "to": "bob", "amount": "5", "denom": "ucon"})))
    out = io.StringIO()
    call_command("submittx", "-", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["ok"] is True and Transaction.objects.filter(tx_hash=printed["id"]).exists()
    for bad, message in [
        ({"type": "bank/burn"}, "unknown transaction type"),
        ({"type": "bank/send", "from": "alice", "to": "bob", "denom": "ucon"}, "missing field 'amount'"),
        ({"type": "bank/send", "from": "alice", "to": "bob", "amount": "-3", "denom": "ucon"}, "negative amount"),
        ({"type": "bank/send", "from": "alice", "to": "bob", "amount": 1.5, "denom": "ucon"}, "integer"),
        ({"type": "swingset/installBundle", "bundle": "not base64!"}, "base64"),
    ]:
        monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(bad)))
        with pytest.raises(CommandError, match=message):
            call_command("submittx", "-", stdout=io.StringIO())
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize("raw", ["[" * 100_000 + "]" * 100_000, '{"amount": ' + "9" * 5000 + "}", "{not json"])
def test_submittx_says_not_json_for_hostile_text(node, monkeypatch, raw):
    """Deep nesting and a number over Python's digit limit are refused like any malformed text."""
    monkeypatch.setattr("sys.stdin", io.StringIO(raw))
    with pytest.raises(CommandError, match="not JSON"):
        call_command("submittx", "-", stdout=io.StringIO())
    assert Transaction.objects.count() == 0


def test_execution_errors_are_results_and_change_nothing(node, settings):
    from kernelhost.chain.services.txs import submit_tx

    settings.BUNDLE_MAX_BYTES = 10
    unknown = submit_tx({"type": "bank/send", "from": "alice", "to": "mallory", "amount": "1", "denom": "ucon"})
    broke = submit_tx({"type": "bank/send", "from": "carol", "to": "bob", "amount": "999999", "denom": "ucon"})
    with pytest.raises(TxInvalid, match="too large") as refused:
        submit_tx({"type": "swingset/installBundle", "bundle": "QUJDREVGR0hJSktMTU5PUA=="})
    assert refused.value.code == ERR_TOO_LARGE
    # a bad tx that reached the mempool another way is refused at execution too
    raw = Transaction.objects.create(tx_hash="f" * 64, type="bank/send", body={"from": "alice", "to": "bob",
                                                                               "amount": "-1", "denom": "ucon"})
    run_node(stop=threading.Event(), blocks=1, logical_clock=True, publish=lambda *a: None)
    assert Transaction.objects.get(pk=unknown.pk).code == ERR_UNKNOWN_ACCOUNT
    assert "insufficient funds" in Transaction.objects.get(pk=broke.pk).message
    assert Transaction.objects.get(pk=raw.pk).code == ERR_INVALID
    from kernelhost.chain.selectors import balances

    assert balances()["alice"]["ucon"] == "1000000" and balances()["carol"]["ucon"] == "5000"


def test_nodestatus_json_shape(node):
    run_node(stop=threading.Event(), blocks=2, logical_clock=True, publish=lambda *a: None)
    out = io.StringIO()
    call_command("nodestatus", "--json", stdout=out)
    status = json.loads(out.getvalue())
    assert status["chain"]["height"] == 2 and len(status["chain"]["appHash"]) == 64
    assert status["chain"]["blockIntervalS"] == 2.0  # logical clock, default 2000 ms
    kernel = status["kernel"]
    assert kernel["state"] == "running" and kernel["savedHeight"] == 2 and kernel["bundleID"].startswith("b1-")
    assert kernel["crankNumber"] > 0 and kernel["runQueueLength"] == 0 and kernel["pausedHeight"] is None
    assert {v["name"] for v in status["vats"]} >= {"bootstrap", "payer", "bomb"}
    assert status["actionQueueLength"] == 0 and status["pendingChainSends"] == 0 and status["upgradePlan"] is None


def test_publishing_failures_never_stop_the_node(node):
    seen = []

    def flaky(topic, event):
        seen.append(topic)
        raise RuntimeError("console is down")

    assert run_node(stop=threading.Event(), blocks=3, logical_clock=True, publish=flaky) == 3
    assert Block.objects.filter(state=Block.COMMITTED).count() == 3
    assert {"dashboard", "blocks", "chainsends", "runqueue", "banner"} <= set(seen)
    assert RunnerHeartbeat.objects.get(name="node").state == "stopped"


def test_stop_event_stops_between_blocks(node):
    stop = threading.Event()
    stop.set()
    assert run_node(stop=stop, logical_clock=True, publish=lambda *a: None) == 0


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI sets it)")
def test_one_runner_per_node_with_redis(settings):
    with runner_lock("lock-test"):
        with pytest.raises(RunnerLockedError), runner_lock("lock-test"):
            pass
    with runner_lock("lock-test"):  # released: can be taken again
        pass


def test_failpoint_parsing_and_raise_at_n():
    try:
        failpoints.configure("chain.after_commit=raise@2")
        failpoints.failpoint("chain.after_commit")
        with pytest.raises(failpoints.FailpointError):
            failpoints.failpoint("chain.after_commit")
        failpoints.failpoint("kernel.after_crank")  # not armed: nothing
        with pytest.raises(ValueError, match="unknown failpoint"):
            failpoints.parse("no.such=crash")
        with pytest.raises(ValueError, match="unknown action"):
            failpoints.parse("chain.after_commit=explode")
    finally:
        failpoints.configure(None)


def test_failpoints_command_lists_every_name():
    out = io.StringIO()
    call_command("failpoints", stdout=out)
    for name in failpoints.FAILPOINTS:
        assert name in out.getvalue()


def test_vats_with_new_deliveries_get_a_live_event(node):
    from kernelhost.chain.services.txs import submit_tx

    run_node(stop=threading.Event(), blocks=1, logical_clock=True, publish=lambda *a: None)
    submit_tx({"type": "swingset/send", "vat": "bootstrap", "method": "relay", "args": [20]})  # > a block's budget
    events: list = []
    run_node(stop=threading.Event(), blocks=3, logical_clock=True,
             publish=lambda topic, event: events.append((topic, event)))
    # the crank budget (6 in the test genesis) cut the work into blocks; the rest waited
    assert [b.cranks for b in Block.objects.filter(height__in=[2, 3, 4]).order_by("height")] == [6, 6, 6]
    vat_events = [(t, e) for t, e in events if t.startswith("vat.")]
    assert vat_events and all(e["transcriptLength"] > 0 and t == f"vat.{e['vatID']}" for t, e in vat_events)


def test_banner_carries_the_upgrade_plan_and_blocks_keep_their_chain_sends(node):
    from kernelhost.chain.services.txs import submit_tx
    from kernelhost.governance.models import UpgradePlan

    give = submit_tx({"type": "swingset/send", "vat": "payer", "method": "give", "args": ["bob", 2]})
    events = []
    run_node(stop=threading.Event(), blocks=2, logical_clock=True, block_time_ms=1000,
             publish=lambda topic, event: events.append((topic, event)))
    banners = [e for t, e in events if t == "banner"]
    assert [b["height"] for b in banners] == [1, 2]
    assert banners[-1]["upgradePlan"] is None and banners[-1]["blockIntervalS"] == 1.0
    # per-block chain-send history (display only): what the block's chain-sends were, in order
    logs = dict(Block.objects.filter(state=Block.COMMITTED).values_list("height", "chain_send_log"))
    sends = [entry["send"]["type"] for height in sorted(logs) for entry in logs[height]]
    assert "VBANK_GIVE" in sends and "TX_RESULT" in sends
    for block in Block.objects.filter(state=Block.COMMITTED):
        assert len(block.chain_send_log) == block.chain_sends
    assert Transaction.objects.get(pk=give.pk).data["status"] == "fulfilled"

    UpgradePlan.objects.create(seq=1, name="v9", height=50, bundle_id="b1-" + "1" * 128, proposal_number=1,
                               status_height=2)
    events.clear()
    run_node(stop=threading.Event(), blocks=1, logical_clock=True, block_time_ms=1000,
             publish=lambda topic, event: events.append((topic, event)))
    banner = [e for t, e in events if t == "banner"][-1]
    assert banner["upgradePlan"] == {"name": "v9", "height": 50, "bundleID": "b1-" + "1" * 128,
                                     "status": "scheduled"}
    assert banner["height"] == 3


def test_bench_command_replay_and_live_print_one_json_line(tmp_path, monkeypatch):
    out = io.StringIO()
    call_command("bench", "replay", "--vats", "3", "--deliveries", "12", "--path", str(tmp_path / "r"), "--json",
                 stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    replay = json.loads(lines[0])
    assert replay["workload"] == "replay" and replay["vats"] == 3 and replay["deliveries"] == 12

    seen = {}

    def fake_live(*, clients, blocks):
        seen.update(clients=clients, blocks=blocks)
        return {"workload": "live", "clients": clients, "blocks": blocks}

    from kernelhost.management.commands import bench

    monkeypatch.setitem(bench.CONSOLE_BENCHES, "live", f"{__name__}._fake_live")
    monkeypatch.setitem(globals(), "_fake_live", fake_live)
    out = io.StringIO()
    call_command("bench", "live", "--clients", "7", "--blocks", "3", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"workload": "live", "clients": 7, "blocks": 3} and seen == {
        "clients": 7, "blocks": 3}
    monkeypatch.setitem(bench.CONSOLE_BENCHES, "live", "no.such.module.run_live_bench")
    with pytest.raises(CommandError, match="needs the console"):
        call_command("bench", "live", "--json", stdout=io.StringIO())


@pytest.mark.parametrize("args", [["soak", "--minutes", "0"], ["soak", "--tps", "-1"], ["soak", "--clients", "0"],
                                  ["http", "--users", "0"], ["http", "--seconds", "0"], ["http", "--tps", "-1"]])
def test_bench_soak_and_http_refuse_bad_arguments_before_starting_anything(args):
    with pytest.raises(CommandError, match="must be"):
        call_command("bench", *args, "--json", stdout=io.StringIO())
