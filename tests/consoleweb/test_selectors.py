"""Selectors of the node pages on a node with real kernel history."""

from __future__ import annotations

import json

import pytest

from console.node import charts
from console.node import selectors_chain as chain_sel
from console.node import selectors_kernel as kernel_sel
from console.node.kernelstore import NodeNotInitialised, kernel_reader

pytestmark = pytest.mark.django_db


def vat_by_name(store, name, online=None):
    return next(v for v in kernel_sel.vat_list(store=store, online=online) if v["name"] == name)


def test_no_swingstore_is_reported_not_raised_as_an_error(node_path):
    with pytest.raises(NodeNotInitialised), kernel_reader():
        pass


def test_vat_list_has_every_column_from_the_store(node):
    online = chain_sel.vats_online()
    with kernel_reader() as store:
        vats = kernel_sel.vat_list(store=store, online=online)
        names = [v["name"] for v in vats]
        assert names == ["vatAdmin", "alice", "bank-watcher", "bob", "bootstrap", "counter"]
        counter = vat_by_name(store, "counter", online)
        assert counter["id"] == "v6" and counter["dynamic"] is False and counter["critical"] is False
        assert counter["bundleID"].startswith("b1-") and counter["workerType"] == "local"
        assert counter["incarnation"] == 0 and counter["online"] is True
        # initialize-worker, startVat, three increments
        assert counter["transcriptLength"] == 5
        assert counter["clistSize"] == 2  # its root (exported) and vat-admin's service (imported)
        bootstrap = vat_by_name(store, "bootstrap")
        assert bootstrap["critical"] is True
        assert vat_by_name(store, "vatAdmin")["kernelVat"] == "vatAdmin"

        by_length = kernel_sel.vat_list(store=store, sort="transcriptLength", descending=True)
        lengths = [v["transcriptLength"] for v in by_length]
        assert lengths == sorted(lengths, reverse=True)
        assert [v["id"] for v in kernel_sel.vat_list(store=store, sort="nonsense")][0] == "v1"


def test_vat_page_data_clist_links_vatstore_spans_and_deliveries(node):
    with kernel_reader() as store:
        vat = kernel_sel.vat_detail(store=store, vat_id="v6")
        assert vat["name"] == "counter" and json.loads(vat["parameters"])["body"].startswith("#")
        assert kernel_sel.vat_detail(store=store, vat_id="v99") is None

        clist = kernel_sel.clist_page(store=store, vat_id="v6")
        by_kref = {e["kref"]: e for e in clist["entries"]}
        admin_root = store.kernel.kv.get("vatAdminRootKref")
        assert by_kref[admin_root]["owner"] == "v1" and not by_kref[admin_root]["exported"]
        own = [e for e in clist["entries"] if e["exported"]]
        assert [e["vref"] for e in own] == ["o+0"]

        first = kernel_sel.clist_page(store=store, vat_id="v5", limit=3)
        rest = kernel_sel.clist_page(store=store, vat_id="v5", after=first["next"], limit=100)
        assert len(first["entries"]) == 3 and first["next"] == first["entries"][-1]["kref"]
        all_krefs = [e["kref"] for e in first["entries"] + rest["entries"]]
        assert len(all_krefs) == len(set(all_krefs)) == kernel_sel.clist_size(store, "v5")
        assert rest["next"] is None

        page = kernel_sel.vatstore_page(store=store, vat_id="v6", limit=2)
        assert [r["key"] for r in page["rows"]] == ["bg.tally", "vom.dk.1.next"]
        more = kernel_sel.vatstore_page(store=store, vat_id="v6", after=page["next"], limit=50)
        assert more["rows"][0]["key"] == "vom.kind.Tally" and more["next"] is None
        scoped = kernel_sel.vatstore_page(store=store, vat_id="v6", prefix="vom.kind.")
        assert [r["key"] for r in scoped["rows"]] == ["vom.kind.Tally"]

        spans = kernel_sel.incarnation_history(store=store, vat_id="v6")
        assert len(spans) == 1 and spans[0]["isCurrent"] and spans[0]["length"] == 5
        assert spans[0]["startedBy"] == {"type": "startVat", "status": "ok", "error": None}

        recent = kernel_sel.recent_deliveries(store=store, vat_id="v6", count=3)
        assert [d["position"] for d in recent] == [4, 3, 2]
        assert [d["method"] for d in recent] == ["increment"] * 3
        assert recent[0]["preview"] == "[3]" and recent[0]["status"] == "ok" and recent[0]["computrons"]


def test_transcript_page_keyset_and_method_filter(node):
    with kernel_reader() as store:
        page = kernel_sel.transcript_page(store=store, vat_id="v6", start=0, limit=2)
        assert [e["position"] for e in page["entries"]] == [0, 1]
        assert [e["type"] for e in page["entries"]] == ["initialize-worker", "startVat"]
        assert page["entries"][0]["spanStart"]["startPos"] == 0 and page["next"] == 2 and page["prev"] is None
        tail = kernel_sel.transcript_page(store=store, vat_id="v6", start=page["next"], limit=2)
        assert [e["position"] for e in tail["entries"]] == [2, 3] and tail["prev"] == 0 and tail["next"] == 4
        only = kernel_sel.transcript_page(store=store, vat_id="v6", method="increment", limit=50)
        assert [e["position"] for e in only["entries"]] == [2, 3, 4] and only["next"] is None
        assert kernel_sel.transcript_page(store=store, vat_id="v6", method="nope")["entries"] == []
        lines = "".join(kernel_sel.transcript_lines(store=store, vat_id="v6", start=1, end=4)).splitlines()
        assert [json.loads(line)["position"] for line in lines] == [1, 2, 3]
        assert json.loads(lines[1])["item"]["d"][0] == "message"


def test_runqueue_items_in_order_with_target_vat_and_filters(node):
    node.queue_directly(("counter", "increment", [7]), ("bob", "hello", ["x" * 500]), ("counter", "read", []))
    with kernel_reader() as store:
        queue = kernel_sel.runqueue_list(store=store)
        assert queue.length == 3 and not queue.truncated
        assert [(i["position"], i["kind"], i["vat"], i["method"]) for i in queue.items] == [
            (0, "send", "v6", "increment"), (1, "send", "v4", "hello"), (2, "send", "v6", "read")]
        assert queue.items[0]["target"].startswith("ko") and queue.items[0]["preview"] == "[7]"
        assert len(queue.items[1]["preview"]) <= kernel_sel.PREVIEW_CHARS
        assert queue.vats == ["v4", "v6"] and queue.kinds == ["send"]
        assert [i["method"] for i in kernel_sel.runqueue_list(store=store, vat="v6").items] == ["increment", "read"]
        assert kernel_sel.runqueue_list(store=store, kind="notify").items == []
        assert kernel_sel.kernel_summary(store=store)["runQueueLength"] == 3


def test_saved_chain_sends_are_the_last_blocks(node):
    node.send("counter", "increment", 10)
    node.run(blocks=1)
    with kernel_reader() as store:
        saved = kernel_sel.saved_chain_sends(store=store)
    assert saved["height"] == 5
    types = [s["type"] for s in saved["sends"]]
    assert types[0] == "ACTION_DONE" and "TX_RESULT" in types
    assert saved["sends"][0]["send"]["actionID"] == "5-0" and saved["sends"][0]["result"] is not None


def test_block_history_charts_blocks_and_actions(node):
    history = chain_sel.block_history()
    assert [b["height"] for b in history] == [1, 2, 3, 4]
    assert history[0]["intervalS"] is None and history[1]["intervalS"] == 2.0
    assert history[0]["cranks"] > 0 and history[2]["cranks"] == 3
    assert all(b["runQueueLength"] == 0 for b in history)
    assert [b["actionQueueLength"] for b in history] == [0, 0, 0, 0]

    node.send("counter", "increment", 1)
    node.run(blocks=1)  # block 5 queues the action in its txs and consumes it in its kernel phase
    assert chain_sel.block_history()[-1]["actionQueueLength"] == 0

    chart_list = charts.dashboard_charts(chain_sel.block_history())
    cranks = next(c for c in chart_list if c.id == "chart-cranks")
    assert cranks.count == 5 and cranks.first_height == 1 and cranks.last_height == 5
    assert len(cranks.points.split()) == 5
    assert charts.line_chart("x", "X", []).count == 0

    page = chain_sel.blocks_page(limit=2)
    assert [b["height"] for b in page["blocks"]] == [5, 4] and page["next"] == 4
    older = chain_sel.blocks_page(before=page["next"], limit=10)
    assert [b["height"] for b in older["blocks"]] == [3, 2, 1] and older["next"] is None
    block3 = older["blocks"][0]
    assert [t["type"] for t in block3["txs"]] == ["swingset/send"] * 3
    assert all(t["code"] == 0 for t in block3["txs"]) and block3["actionsConsumed"] == 3

    sends = chain_sel.chainsends_history()
    by_height = {b["height"]: b for b in sends}
    assert by_height[3]["chain_sends"] == 9 and by_height[3]["actionsConsumed"] == 3


def test_action_queue_lists_pending_actions(node):
    from kernelhost.chain.models import Action

    Action.objects.create(seq=99, action_id="9-0", kind="SWINGSET_SEND", body={"vat": "counter"}, queued_height=4)
    queue = chain_sel.action_queue()
    assert queue["length"] == 1 and queue["items"][0]["action_id"] == "9-0"
    assert chain_sel.block_history()[-1]["actionQueueLength"] == 1  # queued at 4, still pending
