"""Node pages. Thin: read through the selectors, render one template per page.

Live parts: each page names its topics (`live_topics`, which drives base.html's websocket);
the consumer pushes id-keyed out-of-band fragments. Regions that need a fresh server read
(run-queue items, block tables, charts) carry `data-live-refresh="<topic>"` and re-fetch
themselves (their own URL, filters included) when that topic's event arrives.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from console.node import charts
from console.node import selectors_chain as chain_sel
from console.node import selectors_kernel as kernel_sel
from console.node.kernelstore import NodeNotInitialised, kernel_reader
from console.roles import ADMINS, OPERATORS, VOTERS, role_required
from console.selectors.health import check_runner
from console.selectors.node import node_status

ANY_ROLE = (OPERATORS, VOTERS, ADMINS)
VAT_ID = re.compile(r"^v[0-9]{1,6}$")
DOWNLOAD_MAX_ITEMS = 1_000_000


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _vat_id(vat_id: str) -> str:
    if not VAT_ID.match(vat_id):
        raise Http404("no such vat")
    return vat_id


def _no_node(request: HttpRequest, title: str, topics: str = "banner") -> HttpResponse:
    return render(request, "console/node/empty.html", {"status": chain_sel.banner_status(), "title": title, "live_topics": topics})


def upgrade_countdown(status: dict | None) -> dict | None:
    plan = (status or {}).get("upgradePlan")
    if not plan or plan.get("height") is None:
        return None
    height = (status.get("chain") or {}).get("height") or 0
    interval = (status.get("chain") or {}).get("blockIntervalS")
    blocks_left = max(0, plan["height"] - height)
    return {**plan, "blocksLeft": blocks_left,
            "secondsLeft": round(blocks_left * interval) if interval else None}


@require_GET
@role_required(*ANY_ROLE)
def dashboard(request: HttpRequest) -> HttpResponse:
    status = node_status()
    history = chain_sel.block_history() if status is not None else []
    return render(request, "console/dashboard.html", {
        "status": status,
        "charts": charts.dashboard_charts(history),
        "history_blocks": len(history),
        "last_block": chain_sel.last_block() if status is not None else None,
        "runner": check_runner(),
        "upgrade": upgrade_countdown(status),
        "vats_online": sum(1 for v in (status or {}).get("vats") or [] if v.get("online")),
        "live_topics": "dashboard,banner",
    })


@require_GET
@role_required(*ANY_ROLE)
def runqueue(request: HttpRequest) -> HttpResponse:
    vat = request.GET.get("vat") or None
    kind = request.GET.get("kind") or None
    try:
        with kernel_reader() as store:
            queue = kernel_sel.runqueue_list(store=store, vat=vat, kind=kind)
            summary = kernel_sel.kernel_summary(store=store)
    except NodeNotInitialised:
        return _no_node(request, "Run-queue")
    return render(request, "console/node/runqueue.html", {"status": chain_sel.banner_status(),
        "queue": queue, "summary": summary, "actions": chain_sel.action_queue(),
        "filter_vat": vat or "", "filter_kind": kind or "",
        "live_topics": "runqueue,banner",
    })


@require_GET
@role_required(*ANY_ROLE)
def vats(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort") or "id"
    descending = request.GET.get("dir") == "desc"
    try:
        with kernel_reader() as store:
            rows = kernel_sel.vat_list(store=store, online=chain_sel.vats_online(), sort=sort, descending=descending)
    except NodeNotInitialised:
        return _no_node(request, "Vats")
    columns = [("id", "ID"), ("name", "Name"), ("dynamic", "Dynamic"), ("critical", "Critical"),
               ("incarnation", "Incarnation"), ("bundleID", "Bundle"), ("workerType", "Worker"),
               ("online", "Online"), ("transcriptLength", "Transcript"), ("clistSize", "C-list")]
    return render(request, "console/node/vats.html", {"status": chain_sel.banner_status(),
        "vats": rows, "sort": sort if sort in kernel_sel.VAT_SORT_KEYS else "id", "descending": descending,
        "columns": columns, "live_topics": "blocks,banner",
    })


@require_GET
@role_required(*ANY_ROLE)
def vat_detail(request: HttpRequest, vat_id: str) -> HttpResponse:
    vat_id = _vat_id(vat_id)
    try:
        with kernel_reader() as store:
            vat = kernel_sel.vat_detail(store=store, vat_id=vat_id, online=chain_sel.vats_online())
            if vat is None:
                raise Http404(f"no vat {vat_id}")
            clist = kernel_sel.clist_page(store=store, vat_id=vat_id, after=request.GET.get("clist_after") or None)
            vatstore = kernel_sel.vatstore_page(store=store, vat_id=vat_id, after=request.GET.get("vs_after") or None,
                                                prefix=request.GET.get("vs_prefix") or "")
            deliveries = kernel_sel.recent_deliveries(store=store, vat_id=vat_id)
    except NodeNotInitialised:
        return _no_node(request, f"Vat {vat_id}")
    return render(request, "console/node/vat_detail.html", {"status": chain_sel.banner_status(),
        "vat": vat, "clist": clist, "vatstore": vatstore, "deliveries": deliveries,
        "live_topics": f"blocks,vat.{vat_id},banner",
    })


@require_GET
@role_required(*ANY_ROLE)
def transcript(request: HttpRequest, vat_id: str) -> HttpResponse:
    vat_id = _vat_id(vat_id)
    start = _int(request.GET.get("start"))
    limit = _int(request.GET.get("limit"), kernel_sel.TRANSCRIPT_PAGE)
    method = (request.GET.get("method") or "").strip() or None
    try:
        with kernel_reader() as store:
            if not kernel_sel.vat_exists(store=store, vat_id=vat_id):
                raise Http404(f"no vat {vat_id}")
            page = kernel_sel.transcript_page(store=store, vat_id=vat_id, start=start, limit=limit, method=method)
    except NodeNotInitialised:
        return _no_node(request, f"Transcript of {vat_id}")
    return render(request, "console/node/transcript.html", {"status": chain_sel.banner_status(),
        "page": page, "vat_id": vat_id, "live_topics": "banner",
        "download_url": reverse("transcript-download", args=[vat_id]),
    })


@require_GET
@role_required(*ANY_ROLE)
def transcript_download(request: HttpRequest, vat_id: str) -> StreamingHttpResponse:
    """A range of positions as JSON lines, streamed. The store is opened inside the generator:
    a store belongs to the thread that opened it, and the response is iterated later."""
    vat_id = _vat_id(vat_id)
    start = max(0, _int(request.GET.get("start"), 0))
    end = _int(request.GET.get("end"))
    try:
        with kernel_reader() as store:
            bounds = kernel_sel.transcript_bounds(store=store, vat_id=vat_id)
    except NodeNotInitialised as exc:
        raise Http404("no node initialised") from exc
    if not bounds["spans"]:
        raise Http404(f"no transcript for {vat_id}")
    end = bounds["end"] if end is None else min(end, bounds["end"])
    end = min(end, start + DOWNLOAD_MAX_ITEMS)

    def lines():
        with kernel_reader() as reader:
            yield from kernel_sel.transcript_lines(store=reader, vat_id=vat_id, start=start, end=end)

    response = StreamingHttpResponse(lines(), content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="transcript-{vat_id}-{start}-{end}.jsonl"'
    return response


@require_GET
@role_required(*ANY_ROLE)
def chainsends(request: HttpRequest) -> HttpResponse:
    try:
        with kernel_reader() as store:
            saved = kernel_sel.saved_chain_sends(store=store)
    except NodeNotInitialised:
        saved = None
    return render(request, "console/node/chainsends.html", {"status": chain_sel.banner_status(),
        "saved": saved, "history": chain_sel.chainsends_history(), "node": chain_sel.node_state_get(),
        "live_topics": "chainsends,banner",
    })


@require_GET
@role_required(*ANY_ROLE)
def blocks(request: HttpRequest) -> HttpResponse:
    page = chain_sel.blocks_page(before=_int(request.GET.get("before")))
    return render(request, "console/node/blocks.html", {"status": chain_sel.banner_status(),
        "page": page, "node": chain_sel.node_state_get(), "live_topics": "blocks,banner",
        "first_page": request.GET.get("before") in (None, ""),
    })
