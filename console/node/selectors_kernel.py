"""Reads of kernel state from the read-only swing-store (key schema: docs/arch-kernel.md).

Every function takes the `store` opened by `console.node.kernelstore.kernel_reader()` and
reads through the swing-store's public API only (kv get / get_next_key / iter_prefix,
transcripts.read_items / list_spans / get_current_span_bounds, host kv). Nothing here
writes, and nothing imports the kernel package: the console must keep working while the
node runs a different kernel bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

PREVIEW_CHARS = 160
RUNQUEUE_SCAN_LIMIT = 2_000  # queue entries looked at per request (filters apply within)
TRANSCRIPT_PAGE = 50
TRANSCRIPT_MAX_PAGE = 500
TRANSCRIPT_FILTER_SCAN = 20_000  # positions scanned per request when filtering by method
TRANSCRIPT_CHUNK = 1_000
VATSTORE_PAGE = 50
CLIST_PAGE = 200


def _loads(raw: str | None, default=None):
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def vat_number(vat_id: str) -> int:
    try:
        return int(vat_id.lstrip("v"))
    except ValueError:
        return 1 << 30


def capdata_method(capdata) -> tuple[str | None, str]:
    """(method, argument preview) of a message's `methargs` capdata (`"#[method, args]"`)."""
    if not isinstance(capdata, dict):
        return None, ""
    body = capdata.get("body") or ""
    decoded = _loads(body[1:] if body.startswith("#") else body)
    if isinstance(decoded, list) and decoded and isinstance(decoded[0], str):
        args = decoded[1] if len(decoded) > 1 else []
        preview = json.dumps(args, separators=(",", ":"))
    else:
        preview = body
    slots = capdata.get("slots") or []
    if slots:
        preview += "  slots: " + ",".join(str(s) for s in slots)
    return (decoded[0] if isinstance(decoded, list) and decoded and isinstance(decoded[0], str) else None,
            _truncate(preview))


def _truncate(text: str, limit: int = PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def kref_owner(store, kref: str) -> str | None:
    """The vat that owns an object, decides a promise, or the device of a device node."""
    kv = store.kernel.kv
    if kref.startswith("ko"):
        return kv.get(f"{kref}.owner")
    if kref.startswith("kp"):
        return kv.get(f"{kref}.decider")
    if kref.startswith("kd"):
        return kv.get(f"{kref}.owner")
    return None


# -- kernel-wide -------------------------------------------------------------------------

def kernel_summary(*, store) -> dict:
    kv = store.kernel.kv
    bounds = _loads(kv.get("runQueue"), [0, 0])
    return {
        "crankNumber": int(kv.get("crankNumber") or 0),
        "runQueueLength": max(0, bounds[1] - bounds[0]),
        "kernelBundleID": kv.get("kernelBundleID"),
        "activityHash": kv.get("activityhash"),
        "defaultManagerType": kv.get("kernel.defaultManagerType") or "local",
        "savedHeight": int(store.host.kv.get("host.height") or 0),
    }


# -- run-queue -----------------------------------------------------------------------------

@dataclass
class RunQueueView:
    items: list[dict]
    length: int
    scanned: int
    truncated: bool
    kinds: list[str] = field(default_factory=list)
    vats: list[str] = field(default_factory=list)


def runqueue_item_view(store, position: int, item: dict) -> dict:
    kind = item.get("type", "?")
    view = {"position": position, "kind": kind, "target": None, "vat": None, "method": None, "preview": ""}
    if kind == "send":
        target = item.get("target")
        view["target"] = target
        view["vat"] = kref_owner(store, target) if isinstance(target, str) else None
        msg = item.get("msg") or {}
        view["method"], view["preview"] = capdata_method(msg.get("methargs"))
        view["result"] = msg.get("result")
    elif kind == "notify":
        view["target"] = item.get("kpid")
        view["vat"] = item.get("vatID")
        view["preview"] = f"resolution of {item.get('kpid')}"
    else:  # startVat, create-vat, anything newer
        view["vat"] = item.get("vatID")
        rest = {k: v for k, v in item.items() if k not in ("type", "vatID")}
        view["preview"] = _truncate(json.dumps(rest, separators=(",", ":"))) if rest else ""
    return view


def runqueue_list(*, store, vat: str | None = None, kind: str | None = None,
                  limit: int = RUNQUEUE_SCAN_LIMIT) -> RunQueueView:
    """The queued items in delivery order (head first), filtered by target vat and kind."""
    kv = store.kernel.kv
    head, tail = _loads(kv.get("runQueue"), [0, 0])
    end = min(tail, head + limit)
    items, kinds, vats = [], set(), set()
    for position in range(head, end):
        item = _loads(kv.get(f"runQueue.{position}"))
        if not isinstance(item, dict):
            continue
        view = runqueue_item_view(store, position - head, item)
        kinds.add(view["kind"])
        if view["vat"]:
            vats.add(view["vat"])
        if (vat and view["vat"] != vat) or (kind and view["kind"] != kind):
            continue
        items.append(view)
    return RunQueueView(items=items, length=max(0, tail - head), scanned=end - head, truncated=end < tail,
                        kinds=sorted(kinds), vats=sorted(vats, key=vat_number))


# -- vats ----------------------------------------------------------------------------------

VAT_SORT_KEYS = ("id", "name", "dynamic", "critical", "incarnation", "bundleID", "workerType", "online",
                 "transcriptLength", "clistSize")


def vat_ids(*, store) -> list[str]:
    kv = store.kernel.kv
    ids = [kv.get(f"vat.name.{name}") for name in _loads(kv.get("vat.names"), [])]
    ids += _loads(kv.get("vat.dynamicIDs"), [])
    seen = []
    for vat_id in ids:
        if vat_id and vat_id not in seen:
            seen.append(vat_id)
    return seen


def _span_bounds(store, vat_id: str) -> dict | None:
    bounds = store.kernel.transcripts.get_current_span_bounds(vat_id)
    if bounds is not None:
        return bounds
    spans = store.kernel.transcripts.list_spans(vat_id)  # terminated: the last closed span
    return spans[-1] if spans else None


def clist_size(store, vat_id: str) -> int:
    return sum(1 for _ in store.kernel.kv.iter_prefix(f"{vat_id}.c.k"))


def vat_row(store, vat_id: str, *, terminated: set[str], online: dict[str, bool], default_manager: str) -> dict:
    kv = store.kernel.kv
    options = _loads(kv.get(f"{vat_id}.options"), {}) or {}
    source = _loads(kv.get(f"{vat_id}.source"), {}) or {}
    bounds = _span_bounds(store, vat_id)
    return {
        "id": vat_id,
        "name": options.get("name") or vat_id,
        "dynamic": bool(options.get("dynamic")),
        "critical": bool(options.get("critical")),
        "incarnation": bounds["incarnation"] if bounds else None,
        "bundleID": source.get("bundleID"),
        "kernelVat": source.get("kernelVat"),
        "workerType": options.get("managerType") or default_manager,
        "online": online.get(vat_id),
        "terminated": vat_id in terminated,
        "transcriptLength": bounds["endPos"] if bounds else 0,
        "clistSize": clist_size(store, vat_id),
        "enablePipelining": bool(options.get("enablePipelining")),
    }


def vat_list(*, store, online: dict[str, bool] | None = None, sort: str = "id", descending: bool = False) -> list[dict]:
    """Every vat (static in creation order, then dynamic), sorted by a column of the table.
    `online` comes from the runner's last kernel status snapshot (the read-only store cannot
    know which workers are up)."""
    kv = store.kernel.kv
    terminated = set(_loads(kv.get("vats.terminated"), []))
    default_manager = kv.get("kernel.defaultManagerType") or "local"
    rows = [vat_row(store, v, terminated=terminated, online=online or {}, default_manager=default_manager)
            for v in vat_ids(store=store)]
    if sort not in VAT_SORT_KEYS:
        sort = "id"

    def key(row):
        if sort == "id":
            return (0, vat_number(row["id"]))
        value = row[sort]
        return (1, "") if value is None else (0, value)

    return sorted(rows, key=key, reverse=descending)


def vat_exists(*, store, vat_id: str) -> bool:
    return store.kernel.kv.get(f"{vat_id}.options") is not None or vat_id in vat_ids(store=store)


def clist_page(*, store, vat_id: str, after: str | None = None, limit: int = CLIST_PAGE) -> dict:
    """The vat's c-list, kernel side first (`vNN.c.<kref>` = "R <vref>"), paged by kref, each
    with the vat (or device) that owns the kref so the page can link to it."""
    kv = store.kernel.kv
    prefix = f"{vat_id}.c.k"
    entries, key = [], (f"{vat_id}.c.{after}" if after else prefix)
    while len(entries) <= limit:
        key = kv.get_next_key(key)
        if key is None or not key.startswith(prefix):
            break
        kref = key[len(f"{vat_id}.c."):]
        raw = kv.get(key) or ""
        flag, _, vref = raw.partition(" ")
        owner = kref_owner(store, kref)
        entries.append({"kref": kref, "vref": vref or raw, "flag": flag, "owner": owner,
                        "exported": owner == vat_id, "kind": kref[:2]})
    more = len(entries) > limit
    entries = entries[:limit]
    return {"entries": entries, "next": entries[-1]["kref"] if more and entries else None}


def vatstore_page(*, store, vat_id: str, after: str | None = None, prefix: str = "",
                  limit: int = VATSTORE_PAGE) -> dict:
    """A page of the vat's vatstore (`vNN.vs.<key>`), by key, starting after `after`."""
    kv = store.kernel.kv
    base = f"{vat_id}.vs."
    scope = base + prefix
    key = base + after if after else scope
    rows = []
    if not after and kv.get(scope) is not None:
        rows.append({"key": prefix, "value": _truncate(kv.get(scope) or "", 400)})
    while len(rows) <= limit:
        key = kv.get_next_key(key)
        if key is None or not key.startswith(scope):
            break
        rows.append({"key": key[len(base):], "value": _truncate(kv.get(key) or "", 400)})
    more = len(rows) > limit
    rows = rows[:limit]
    return {"rows": rows, "next": rows[-1]["key"] if more and rows else None, "prefix": prefix}


def vat_detail(*, store, vat_id: str, online: dict[str, bool] | None = None) -> dict | None:
    kv = store.kernel.kv
    if kv.get(f"{vat_id}.options") is None and vat_id not in vat_ids(store=store):
        return None
    terminated = set(_loads(kv.get("vats.terminated"), []))
    row = vat_row(store, vat_id, terminated=terminated, online=online or {},
                  default_manager=kv.get("kernel.defaultManagerType") or "local")
    row["options"] = _loads(kv.get(f"{vat_id}.options"), {})
    row["source"] = _loads(kv.get(f"{vat_id}.source"), {})
    parameters = _loads(kv.get(f"{vat_id}.vatParameters"))
    row["parameters"] = _truncate(json.dumps(parameters, separators=(",", ":")), 400) if parameters else ""
    row["spans"] = incarnation_history(store=store, vat_id=vat_id)
    return row


def incarnation_history(*, store, vat_id: str) -> list[dict]:
    """Transcript spans, old to new, each with its incarnation and whether it began a new
    incarnation (an upgrade) or just rolled over; the first item of each incarnation's
    first span tells how it started (initialize-worker / startVat / upgrade result)."""
    spans = store.kernel.transcripts.list_spans(vat_id)
    out, previous = [], None
    for span in spans:
        entry = dict(span)
        entry["length"] = span["endPos"] - span["startPos"]
        entry["upgrade"] = previous is not None and span["incarnation"] != previous
        entry["startedBy"] = None
        if previous is None or entry["upgrade"]:
            first = store.kernel.transcripts.read_items(vat_id, span["startPos"], span["startPos"] + 3)
            for _, raw in first:
                parsed = transcript_entry_view(span["startPos"], raw)
                if parsed["type"] in ("startVat", "upgrade", "initialize-worker"):
                    entry["startedBy"] = {"type": parsed["type"], "status": parsed["status"],
                                          "error": parsed["error"]}
                    if parsed["type"] != "initialize-worker":
                        break
        out.append(entry)
        previous = span["incarnation"]
    return out


# -- transcripts -------------------------------------------------------------------------------

def transcript_entry_view(position: int, raw: str) -> dict:
    """One transcript item `{"d": delivery, "sc": [{"s", "r"}], "r": result}` for display."""
    item = _loads(raw, {}) or {}
    delivery = item.get("d") or []
    kind = delivery[0] if delivery and isinstance(delivery[0], str) else "?"
    method, preview, target = None, "", None
    if kind == "message" and len(delivery) >= 3:
        target = delivery[1]
        method, preview = capdata_method((delivery[2] or {}).get("methargs"))
    elif kind == "notify" and len(delivery) >= 2:
        resolutions = delivery[1] or []
        preview = _truncate(", ".join(f"{r[0]} {'rejected' if r[1] else 'fulfilled'}" for r in resolutions
                                      if isinstance(r, list) and len(r) >= 2))
    result = item.get("r") or {}
    syscalls = item.get("sc") or []
    return {
        "position": position,
        "type": kind,
        "target": target,
        "method": method,
        "preview": preview,
        "status": result.get("status"),
        "error": result.get("error") or result.get("problem"),
        "computrons": result.get("computrons"),
        "syscallCount": len(syscalls),
        "syscallKinds": sorted({(s.get("s") or ["?"])[0] for s in syscalls if isinstance(s, dict)}),
        "delivery": json.dumps(delivery, indent=1)[:8000],
        "syscalls": [json.dumps(s, separators=(",", ":"))[:1000] for s in syscalls[:200]],
        "moreSyscalls": max(0, len(syscalls) - 200),
        "result": json.dumps(result, indent=1)[:4000],
    }


def _item_method(raw: str) -> str | None:
    # Cheap pre-check before parsing: the method is inside the delivery's capdata body.
    item = _loads(raw, {}) or {}
    delivery = item.get("d") or []
    if delivery and delivery[0] == "message" and len(delivery) >= 3:
        return capdata_method((delivery[2] or {}).get("methargs"))[0]
    return None


def transcript_bounds(*, store, vat_id: str) -> dict:
    spans = store.kernel.transcripts.list_spans(vat_id)
    return {"first": spans[0]["startPos"] if spans else 0, "end": spans[-1]["endPos"] if spans else 0,
            "spans": spans}


def transcript_page(*, store, vat_id: str, start: int | None = None, limit: int = TRANSCRIPT_PAGE,
                    method: str | None = None) -> dict:
    """Keyset pagination by position: the items with position >= start, `limit` of them,
    read as position ranges (`read_items(vat, start, end)` is an index range scan, so page
    1 and page 20,000 cost the same). With a method filter, ranges are scanned forward
    until a page is full or TRANSCRIPT_FILTER_SCAN positions were looked at; `next` then
    continues the scan where it stopped."""
    limit = max(1, min(limit, TRANSCRIPT_MAX_PAGE))
    bounds = transcript_bounds(store=store, vat_id=vat_id)
    first, end, spans = bounds["first"], bounds["end"], bounds["spans"]
    if start is None:
        start = first
    start = max(first, min(start, max(first, end - 1)))
    transcripts = store.kernel.transcripts
    entries: list[dict] = []
    cursor = start
    if method:
        scan_end = min(end, start + TRANSCRIPT_FILTER_SCAN)
        while cursor < scan_end and len(entries) < limit:
            chunk_end = min(scan_end, cursor + TRANSCRIPT_CHUNK)
            for position, raw in transcripts.read_items(vat_id, cursor, chunk_end):
                if f'\\"{method}\\"' in raw and _item_method(raw) == method:
                    entries.append(transcript_entry_view(position, raw))
                    if len(entries) >= limit:
                        chunk_end = position + 1
                        break
            cursor = chunk_end
        next_start = cursor if cursor < end else None
    else:
        rows = transcripts.read_items(vat_id, start, start + limit)
        entries = [transcript_entry_view(position, raw) for position, raw in rows]
        cursor = start + limit
        next_start = cursor if cursor < end else None
    span_starts = {s["startPos"]: s for s in spans}
    previous_incarnation = None
    for span in spans:
        span["upgrade"] = previous_incarnation is not None and span["incarnation"] != previous_incarnation
        previous_incarnation = span["incarnation"]
    for entry in entries:
        entry["spanStart"] = span_starts.get(entry["position"])
        entry["incarnation"] = next((s["incarnation"] for s in spans
                                     if s["startPos"] <= entry["position"] < max(s["endPos"], s["startPos"] + 1)),
                                    None)
    prev_start = max(first, start - limit) if start > first and not method else None
    return {
        "vatID": vat_id,
        "entries": entries,
        "start": start,
        "limit": limit,
        "method": method or "",
        "next": next_start,
        "prev": prev_start,
        "first": first,
        "end": end,
        "last": max(first, end - limit),
        "scannedTo": cursor,
        "spans": spans,
    }


def transcript_lines(*, store, vat_id: str, start: int, end: int):
    """JSON lines `{"position": p, "item": <the stored item>}` for positions [start, end),
    read in chunks (the caller streams them)."""
    cursor = start
    while cursor < end:
        chunk_end = min(end, cursor + TRANSCRIPT_CHUNK)
        rows = store.kernel.transcripts.read_items(vat_id, cursor, chunk_end)
        yield "".join(f'{{"position":{position},"item":{raw}}}\n' for position, raw in rows)
        cursor = chunk_end


def recent_deliveries(*, store, vat_id: str, count: int = 10) -> list[dict]:
    bounds = transcript_bounds(store=store, vat_id=vat_id)
    rows = store.kernel.transcripts.read_items(vat_id, max(bounds["first"], bounds["end"] - count), bounds["end"])
    return [transcript_entry_view(position, raw) for position, raw in reversed(rows)]


# -- host keys -----------------------------------------------------------------------------

def saved_chain_sends(*, store) -> dict:
    """The chain-sends the host saved with the last swing-store commit (`host.chainSends`):
    what a crash-recovery replay of that block would re-apply, in order."""
    raw = store.host.kv.get("host.chainSends")
    sends = _loads(raw, []) or []
    return {"height": int(store.host.kv.get("host.height") or 0),
            "sends": [{"number": i, "type": (e.get("send") or {}).get("type"), "send": e.get("send"),
                       "result": e.get("result")} for i, e in enumerate(sends)]}
