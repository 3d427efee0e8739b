"""The load generator against a real running node (subprocesses on a node of their own)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kernelhost.sim import nodeproc

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running_node(tmp_path_factory):
    node = nodeproc.prepare_node(tmp_path_factory.mktemp("loadgen") / "node")  # the demo genesis (kernelhost/demo)
    runner = subprocess.Popen([sys.executable, str(nodeproc.REPO / "manage.py"), "runnode", "--block-time-ms", "300",
                               "--until-height", "100000", "--quiet"], cwd=nodeproc.REPO,
                              env=nodeproc.node_env(node), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield node
    finally:
        runner.terminate()  # SIGTERM: the runner finishes its block and stops
        try:
            _out, err = runner.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
            _out, err = runner.communicate()
        assert runner.returncode == 0, err


def test_loadgen_submits_at_a_steady_rate_and_everything_is_included(running_node):
    result = nodeproc.manage(running_node, "loadgen", "--tps", "15", "--duration", "3", "--seed", "9", "--wait", "60",
                             "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["submitted"] == 45 and report["rejected"] == 0 and report["errors"] == 0
    assert report["included"] == 45 and report["pending"] == 0
    assert report["ok"] + report["failed"] == report["included"]
    assert report["ok"] > report["failed"]
    assert report["blocks"] >= 1 and report["heights"][0] >= 1
    assert {"bank/send", "swingset/send"} <= set(report["byType"])
    # the progress line ("\r[load ...]": subprocess text mode turns the \r into \n)
    assert "[load " in result.stderr and "[wait " in result.stderr
    state = nodeproc.chain_state(running_node)
    queries = [d for _h, _i, t, c, d in state["txs"] if t == "swingset/send" and c == 0]
    assert queries, "swingset sends were queued for the kernel"


def test_loadgen_refuses_an_unknown_mix():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="unknown mix"):
        call_command("loadgen", "--tps", "5", "--duration", "1", "--mix", "bank,nft")
