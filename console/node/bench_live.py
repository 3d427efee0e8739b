"""`bench live`: live-update latency with many dashboard viewers, and the transcript page at a
million entries.

    run_live_bench(clients=200, blocks=50) -> {"p50_ms", "p95_ms", "clients", "blocks",
                                               "slowdown_pct", "transcript_render_ms", ...}

Like `bench blocks`, it runs on a throwaway database (Django's test-database machinery) and a
fresh swing-store from the demo genesis, so a real node's data is never touched. A real
uvicorn serves the console in this process; `clients` real websocket clients (the
`websockets` library, logged in with a session cookie, origin set) subscribe to the
dashboard topic while the node runner (`kernelhost.runner.run_node`, in a thread as in
embedded mode) makes `blocks` blocks with a small workload and publishes after each commit.

- latency: from the moment the runner hands the block's dashboard event to the publisher
  (right after the commit and the status snapshot) to the moment each client has received it;
  p50/p95 over every (client, block) pair; `missed` counts pairs never received.
- slowdown: 2 x `blocks` blocks are made with the clients connected; only even blocks'
  dashboard events are sent to them. Median execution time (BlockOutcome.block_s, both
  commits included) of the blocks that run while an event is being delivered, against the
  blocks that follow a block nobody was sent: interleaving cancels the drift of a shared
  machine, which two separate phases did not (their difference swung from -28 % to +25 %).
- transcript_render_ms: server time of the transcript page (Django test client, page of 50)
  on a vat with 1,000,000 entries written straight through the swing-store API; median of
  pages spread over the whole transcript, plus the slowest.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connections

from console.loadtest.stack import free_port

HEIGHT = re.compile(r'id="chain-height">(\d+)<')


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _Server(threading.Thread):
    def __init__(self, port: int) -> None:
        super().__init__(name="bench-live-server", daemon=True)
        import uvicorn

        config = uvicorn.Config("console.asgi:application", host="127.0.0.1", port=port,
                                ws="websockets-sansio", lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None

    def run(self) -> None:
        self.server.run()

    def wait_started(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("bench server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)


def run_live_bench(clients: int = 200, blocks: int = 50, *, block_time_ms: int = 500, txs: int = 10,
                   transcript_entries: int = 1_000_000) -> dict:
    connection = connections["default"]
    tmp = Path(tempfile.mkdtemp(prefix="kc-bench-live-"))
    if connection.vendor == "sqlite":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(tmp / "bench-chain.sqlite3")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    old_path = settings.SWINGSTORE_PATH
    settings.SWINGSTORE_PATH = str(tmp / "bench-swingstore.sqlite")
    try:
        result = _live(clients, blocks, block_time_ms, txs)
        if transcript_entries:
            result.update(_transcript(tmp / "bench-transcript.sqlite", transcript_entries))
        return result
    finally:
        settings.SWINGSTORE_PATH = old_path
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(tmp, ignore_errors=True)  # the million-entry store is ~220 MB


def _session_cookie() -> str:
    from django.test import Client

    from console.roles import OPERATORS
    from console.services.users import user_create_with_roles

    user = user_create_with_roles(username="bench-viewer", password="bench-viewer-pass-1", roles=(OPERATORS,))
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _workload(txs: int) -> None:
    from kernelhost.chain.services.txs import submit_tx

    for i in range(txs):
        if i % 5 == 4:
            submit_tx({"type": "swingset/send", "vat": "counter", "method": "increment", "args": [i]})
        else:
            src, dst = ("alice", "bob") if i % 2 else ("bob", "alice")
            submit_tx({"type": "bank/send", "from": src, "to": dst, "amount": "1", "denom": "ucon"})


def _run_blocks(count: int, block_time_ms: int, txs: int, publish) -> list[tuple[int, float]]:
    from kernelhost.runner import run_node

    block_s: list[tuple[int, float]] = []

    def on_block(outcome):
        block_s.append((outcome.height, outcome.block_s))
        _workload(txs)  # the next block's transactions

    _workload(txs)
    run_node(stop=threading.Event(), blocks=count, block_time_ms=block_time_ms, publish=publish, on_block=on_block)
    return block_s


def _live(clients: int, blocks: int, block_time_ms: int, txs: int) -> dict:
    from django.utils.module_loading import import_string

    from kernelhost.chain.services.node_genesis import init_node

    # The publisher the node really uses (console.node_events adds governance refreshes).
    live_publish = import_string(getattr(settings, "NODE_EVENT_PUBLISHER", None) or "console.live.publish")

    init_node(settings.SWINGSTORE_PATH)
    port = free_port()
    server = _Server(port)
    server.start()
    server.wait_started()
    sent_at: dict[int, float] = {}
    viewers = {"on": False}

    def publish(topic: str, event: dict) -> None:
        if topic == "dashboard":
            height = event["block"]["height"]
            if not viewers["on"] or height % 2:
                return  # interleaved: odd blocks are not shown to the viewers (the baseline)
            sent_at[height] = time.monotonic()  # comparable across processes
        live_publish(topic, event)

    try:
        _run_blocks(3, block_time_ms, txs, publish)  # warm up: bootstrap, first deliveries

        cookie = _session_cookie()
        url = f"ws://127.0.0.1:{port}/ws/live/?topics=dashboard"
        # The clients run in their own process: in this one they would compete with the
        # server and the node for the GIL and measure themselves.
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=run_ws_clients, args=(url, cookie, port, clients, child), daemon=True)
        process.start()
        if not parent.poll(180):
            raise RuntimeError("websocket clients did not connect in time")
        status = parent.recv()
        if status != "ready":
            raise RuntimeError(f"websocket clients failed: {status}")
        viewers["on"] = True
        timings = _run_blocks(2 * blocks, block_time_ms, txs, publish)
        time.sleep(1.0)  # let the last events arrive
        parent.send("stop")
        received = parent.recv() if parent.poll(60) else []
        process.join(timeout=30)
    finally:
        server.stop()

    latencies, missed = [], 0
    for per_client in received:
        for height, at in sent_at.items():
            if height in per_client:
                latencies.append((per_client[height] - at) * 1000)
            else:
                missed += 1
    # Block h runs while the viewers are (or are not) being sent block h-1's event.
    loaded = [s for h, s in timings if (h - 1) in sent_at]
    baseline = [s for h, s in timings if (h - 1) not in sent_at and h - 1 > min(sent_at, default=h)]
    base_mean = statistics.median(baseline)  # medians: the machine may be shared
    load_mean = statistics.median(loaded)
    return {
        "workload": "live", "clients": clients, "blocks": blocks, "txs_per_block": txs,
        "block_time_ms": block_time_ms, "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        "p50_ms": round(_pct(latencies, 0.5), 2) if latencies else None,
        "p95_ms": round(_pct(latencies, 0.95), 2) if latencies else None,
        "max_ms": round(max(latencies), 2) if latencies else None,
        "missed": missed,
        "blocks_run": 2 * blocks,
        "block_ms_no_clients": round(base_mean * 1000, 2),
        "block_ms_with_clients": round(load_mean * 1000, 2),
        "slowdown_pct": round((load_mean - base_mean) / base_mean * 100, 1),
    }


def run_ws_clients(url, cookie, port, count, conn) -> None:
    """Child process: `count` websocket clients; reports "ready" once all are connected,
    then on "stop" sends back, per client, {height: time.monotonic() at receipt}."""
    received: list[dict[int, float]] = [{} for _ in range(count)]
    try:
        asyncio.run(_clients(url, cookie, port, received, conn))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        conn.send(f"{type(exc).__name__}: {exc}")
        return
    conn.send(received)


async def _clients(url, cookie, port, received, conn) -> None:
    import websockets

    headers = {"Cookie": f"sessionid={cookie}"}
    origin = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    connected = [0]
    all_open = asyncio.Event()

    async def one(index: int) -> None:
        async with websockets.connect(url, additional_headers=headers, origin=origin, max_size=None,
                                      open_timeout=60) as ws:
            connected[0] += 1
            if connected[0] == len(received):
                all_open.set()
            while not stop.is_set():
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.monotonic()
                match = HEIGHT.search(message)
                if match:
                    received[index].setdefault(int(match.group(1)), now)

    tasks = []
    for i in range(len(received)):
        tasks.append(asyncio.create_task(one(i)))
        if i % 20 == 19:
            await asyncio.sleep(0.05)  # do not stampede the accept queue
    waiter = asyncio.create_task(all_open.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        failed = next(t for t in done if t is not waiter)
        failed.result()  # raises the client's error
    conn.send("ready")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "stop"
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


def _transcript(path: Path, entries: int) -> dict:
    """Server time of the transcript page at `entries` entries (Django test client)."""
    from django.test import Client, override_settings
    from django.urls import NoReverseMatch, reverse

    from console.node import selectors_kernel

    started = time.perf_counter()
    _build_transcript(path, entries)
    build_s = time.perf_counter() - started
    allowed = [h for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith(".")]
    client = Client(HTTP_HOST=allowed[0] if allowed else "127.0.0.1")
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="bench-viewer"))
    with override_settings(SWINGSTORE_PATH=str(path), ROOT_URLCONF=_urlconf()):
        try:
            url = reverse("transcript", args=["v1"])
        except NoReverseMatch:  # pragma: no cover - _urlconf() always has it
            raise
        client.get(url)  # warm the template cache
        times = []
        starts = [0, entries // 4, entries // 2, (3 * entries) // 4, entries - selectors_kernel.TRANSCRIPT_PAGE]
        for start in starts * 4:
            t0 = time.perf_counter()
            response = client.get(url, {"start": start})
            times.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"transcript page answered {response.status_code}")
        t0 = time.perf_counter()
        client.get(url, {"start": entries // 2, "method": "rare"})
        filtered_ms = (time.perf_counter() - t0) * 1000
    return {"transcript_entries": entries, "transcript_render_ms": round(statistics.median(times), 2),
            "transcript_render_max_ms": round(max(times), 2), "transcript_filtered_ms": round(filtered_ms, 2),
            "transcript_build_s": round(build_s, 1)}


def _urlconf():
    """The site's URLs with the node pages included, whether or not console/urls.py has the
    include line yet (the page renders the site's navigation, so it needs every name)."""
    import types

    from django.urls import include, path

    from console.urls import urlpatterns as site

    module = types.ModuleType("bench_live_urls")
    node_paths = ("", "runqueue/", "vats/", "chainsends/", "blocks/")
    module.urlpatterns = [path("", include("console.node.urls"))] + [
        p for p in site if str(p.pattern) not in node_paths]
    return module


def _build_transcript(path: Path, entries: int) -> None:
    from kernelhost.swingstore import open_swingstore

    store = open_swingstore(str(path))
    try:
        kv = store.kernel.kv
        kv.set("vat.names", json.dumps(["long"]))
        kv.set("vat.name.long", "v1")
        kv.set("v1.options", json.dumps({"name": "long"}))
        kv.set("v1.source", json.dumps({"bundleID": "b1-" + "0" * 128}))
        transcripts = store.kernel.transcripts
        transcripts.init_transcript("v1")
        for position in range(entries):
            if position and position % 250_000 == 0:
                transcripts.rollover_span("v1")
            method = "rare" if position % 1000 == 7 else "tick"
            item = ('{"d":["message","o+0",{"methargs":{"body":"#[\\"' + method + '\\",[' + str(position)
                    + ']]","slots":[]},"result":"p-60"}],"sc":[{"s":["vatstoreSet","k' + str(position % 10) + '","'
                    + str(position) + '"],"r":["ok",null]}],"r":{"status":"ok","computrons":1100}}')
            transcripts.add_item("v1", item)
        store.host.kv.set("host.height", "1")
        store.host.commit()
    finally:
        store.close()
