"""Swing-store micro-benchmark (`python manage.py bench swingstore --json`).

Workloads, all on a real file with WAL + synchronous=FULL and an export
callback installed (as the host runs it):

- blocks: 30 blocks of 1,000 consensus kv writes + 100 transcript appends,
  each ended by commit(); kv and transcript phases are timed separately,
  commit() on its own.
- cranks: crank-shaped write sets (start_crank, a "deliver" savepoint, 8 kv
  writes, 1 transcript append, emit_crank_hashes, end_crank with its export
  flush), 1,000 per block.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from .store import open_swingstore

BLOCKS = 30
KV_WRITES_PER_BLOCK = 1000
TRANSCRIPT_ITEMS_PER_BLOCK = 100
CRANK_BLOCKS = 20
CRANKS_PER_BLOCK = 1000
VATS = 10

_ITEM = (
    '{"d":["message","o+0",{"methargs":{"body":"#[\\"ping\\",[1]]","slots":[]},'
    '"result":"p-61"}],"sc":[{"s":["resolve",[["p-61",false,{"body":"#1","slots":[]}]]],'
    '"r":["ok",null]}],"r":{"status":"ok"}}'
)


def _fresh_db(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.is_dir():
        p = p / "bench-swingstore.sqlite"
    for suffix in ("", "-wal", "-shm", ".lock"):
        try:
            os.unlink(str(p) + suffix)
        except FileNotFoundError:
            pass
    return p


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _bench_blocks(db: Path) -> dict:
    exported: list = []
    store = open_swingstore(db, export_callback=exported.extend)
    ks, hs = store.kernel, store.host
    for v in range(VATS):
        ks.transcripts.init_transcript(f"v{v + 1}")
    hs.commit()
    kv_time = tx_time = 0.0
    commits: list[float] = []
    perf = time.perf_counter
    for block in range(BLOCKS):
        t0 = perf()
        kv_set = ks.kv.set
        for i in range(KV_WRITES_PER_BLOCK):
            kv_set(f"v{i % VATS + 1}.vs.key.{(block * KV_WRITES_PER_BLOCK + i) % 5000:06d}",
                   f"value-{block}-{i}")
        t1 = perf()
        add_item = ks.transcripts.add_item
        for i in range(TRANSCRIPT_ITEMS_PER_BLOCK):
            add_item(f"v{i % VATS + 1}", _ITEM)
        t2 = perf()
        hs.kv.set("host.height", str(block + 1))
        hs.commit()
        t3 = perf()
        kv_time += t1 - t0
        tx_time += t2 - t1
        commits.append((t3 - t2) * 1000)
        exported.clear()
    store.close()
    return {
        "kv_writes_per_s": round(BLOCKS * KV_WRITES_PER_BLOCK / kv_time),
        "transcript_appends_per_s": round(BLOCKS * TRANSCRIPT_ITEMS_PER_BLOCK / tx_time),
        "commit_ms_median": round(statistics.median(commits), 3),
        "commit_ms_p99": round(_percentile(commits, 0.99), 3),
    }


def _bench_cranks(db: Path) -> dict:
    exported: list = []
    store = open_swingstore(db, export_callback=exported.extend)
    ks, hs = store.kernel, store.host
    kv_set = ks.kv.set
    add_item = ks.transcripts.add_item
    for v in range(VATS):
        vat = f"c{v + 1}"
        if ks.transcripts.get_current_span_bounds(vat) is None:
            ks.transcripts.init_transcript(vat)
    hs.commit()
    elapsed = 0.0
    crank = 0
    perf = time.perf_counter
    for _block in range(CRANK_BLOCKS):
        t0 = perf()
        for _ in range(CRANKS_PER_BLOCK):
            crank += 1
            vat = f"c{crank % VATS + 1}"
            ks.start_crank()
            kv_set("crankNumber", str(crank))
            ks.establish_crank_savepoint("deliver")
            kv_set("runQueue", f"[{crank},{crank + 5}]")
            kv_set(f"{vat}.vs.counter", str(crank))
            kv_set(f"{vat}.c.ko{crank % 97 + 20}", "R o-50")
            kv_set(f"ko{crank % 97 + 20}.refCount", "1,1")
            kv_set(f"kp{crank % 503 + 40}.state", "fulfilled")
            kv_set(f"kp{crank % 503 + 40}.data.body", "#1")
            kv_set("local.kernelStats", "{}")
            add_item(vat, _ITEM)
            ks.emit_crank_hashes()
            ks.end_crank()
        elapsed += perf() - t0
        hs.commit()
        exported.clear()
    store.close()
    return {"crank_write_sets_per_s": round(CRANK_BLOCKS * CRANKS_PER_BLOCK / elapsed)}


def run_swingstore_bench(path: str | os.PathLike) -> dict:
    """Run the workloads on a fresh store at `path` (a file, or a directory
    to create `bench-swingstore.sqlite` in) and return the figures."""
    db = _fresh_db(path)
    started = time.perf_counter()
    result: dict = {"workload": "swingstore"}
    result.update(_bench_blocks(db))
    result.update(_bench_cranks(db))
    result.update({
        "blocks": BLOCKS,
        "kv_writes_per_block": KV_WRITES_PER_BLOCK,
        "transcript_appends_per_block": TRANSCRIPT_ITEMS_PER_BLOCK,
        "cranks": CRANK_BLOCKS * CRANKS_PER_BLOCK,
        "run_s": round(time.perf_counter() - started, 3),
    })
    _fresh_db(db)
    return result


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys
    import tempfile

    target = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    print(json.dumps(run_swingstore_bench(target)))
