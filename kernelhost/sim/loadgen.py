"""The load generator: a steady rate of transactions from `workload.Workload` into the mempool
of a running node (`submit_tx`, the same path as `submittx` and the console), then a bounded
wait for the runner to include them. Same seed and mix, same node state at the start => the
same transactions in the same order.

The run is bounded in time as well as in count: submission stops at `duration_s` even when
the node could not take `tps` (a busy SQLite writer makes each submit wait); `planned` -
`submitted` - `rejected` - `errors` is then reported as `behind`.

Counts: submitted (accepted into the mempool), rejected (refused by submit_tx: a bad shape),
errors (the database refused the insert, e.g. locked for longer than its timeout), included
(executed in a block: they have a result), ok / failed (result code 0 / non-zero), pending
(still without a result when the wait ended).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from .workload import CATEGORIES, Workload

CHUNK = 500


@dataclass
class LoadReport:
    tps: float
    duration_s: float
    mix: tuple[str, ...]
    seed: int
    submitted: int = 0
    rejected: int = 0
    errors: int = 0
    included: int = 0
    ok: int = 0
    failed: int = 0
    pending: int = 0
    blocks: int = 0
    first_height: int | None = None
    last_height: int | None = None
    submit_s: float = 0.0
    wait_s: float = 0.0
    achieved_tps: float = 0.0
    planned: int = 0
    behind: int = 0
    by_type: dict = field(default_factory=dict)
    failed_codes: dict = field(default_factory=dict)
    error_samples: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"tps": self.tps, "durationS": self.duration_s, "mix": list(self.mix), "seed": self.seed,
                "submitted": self.submitted, "included": self.included, "ok": self.ok, "failed": self.failed,
                "rejected": self.rejected, "errors": self.errors, "pending": self.pending, "blocks": self.blocks,
                "heights": [self.first_height, self.last_height], "submitS": round(self.submit_s, 2),
                "waitS": round(self.wait_s, 2), "achievedTps": round(self.achieved_tps, 1),
                "planned": self.planned, "behind": self.behind,
                "byType": dict(sorted(self.by_type.items())),
                "failedCodes": {str(k): v for k, v in sorted(self.failed_codes.items())},
                "errorSamples": self.error_samples[:5]}


class _Tracker:
    """Ids of our submitted transactions without a result yet; polled in chunks."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        self.waiting: set[int] = set()
        self.heights: set[int] = set()

    def add(self, tx_id: int) -> None:
        self.waiting.add(tx_id)

    def poll(self) -> None:
        from kernelhost.chain.models import Transaction

        ids = sorted(self.waiting)
        for start in range(0, len(ids), CHUNK):
            rows = Transaction.objects.filter(id__in=ids[start:start + CHUNK], status=Transaction.DONE).values_list(
                "id", "code", "height")
            for tx_id, code, height in rows:
                self.waiting.discard(tx_id)
                self.heights.add(height)
                self.report.included += 1
                if code == 0:
                    self.report.ok += 1
                else:
                    self.report.failed += 1
                    self.report.failed_codes[code] = self.report.failed_codes.get(code, 0) + 1


def _progress_line(report: LoadReport, tracker: _Tracker, elapsed: float, phase: str) -> str:
    rate = report.submitted / elapsed if elapsed > 0 else 0.0
    return (f"\r[{phase} {elapsed:6.1f}s] submitted {report.submitted} ({rate:.1f}/s)  included {report.included}  "
            f"failed {report.failed}  rejected {report.rejected + report.errors}  pending {len(tracker.waiting)}   ")


def run_load(*, tps: float, duration_s: float, mix=CATEGORIES, seed: int = 1, wait_s: float = 30.0,
             write=None, progress_every_s: float = 1.0) -> LoadReport:
    """Submit for `duration_s` at `tps`, then wait up to `wait_s` for inclusion. `write(text)`
    receives the progress lines (`\\r`-prefixed) and a final newline."""
    from django.db import DatabaseError, close_old_connections

    from kernelhost.chain.models import Transaction
    from kernelhost.chain.services.txs import submit_tx
    from kernelhost.chain.txshapes import TxInvalid
    from kernelhost.governance.models import Proposal

    if tps <= 0 or duration_s <= 0:
        raise ValueError("--tps and --duration must be positive")
    write = write or (lambda _text: None)
    report = LoadReport(tps=tps, duration_s=duration_s, mix=tuple(mix), seed=seed)
    proposal_base = Proposal.objects.order_by("-number").values_list("number", flat=True).first() or 0
    runs = Transaction.objects.filter(type="swingset/send", body__method="make_counter").count()
    workload = Workload(seed, mix, proposal_base=proposal_base, counter_prefix=f"lg{seed}r{runs}c")
    tracker = _Tracker(report)
    by_type: Counter = Counter()
    total = max(1, round(tps * duration_s))
    report.planned = total
    started = time.monotonic()
    deadline = started + duration_s
    next_progress = started + progress_every_s
    for i in range(total):
        due = started + i / tps
        now = time.monotonic()
        if now >= deadline:
            break  # the node could not take the rate: stop on time, report how far behind
        if due > now:
            time.sleep(due - now)
        tx = workload.next_tx()
        try:
            row = submit_tx(tx)
        except TxInvalid as exc:
            report.rejected += 1
            report.error_samples.append(f"rejected {tx['type']}: {exc}")
        except DatabaseError as exc:
            report.errors += 1
            report.error_samples.append(f"database: {exc}")
            close_old_connections()
        else:
            report.submitted += 1
            by_type[tx["type"]] += 1
            tracker.add(row.pk)
        now = time.monotonic()
        if now >= next_progress:
            tracker.poll()
            write(_progress_line(report, tracker, now - started, "load"))
            next_progress = now + progress_every_s
    report.submit_s = time.monotonic() - started
    report.achieved_tps = report.submitted / report.submit_s if report.submit_s else 0.0
    report.behind = total - report.submitted - report.rejected - report.errors
    wait_started = time.monotonic()
    while True:
        tracker.poll()
        now = time.monotonic()
        write(_progress_line(report, tracker, now - started, "wait"))
        if not tracker.waiting or now - wait_started >= wait_s:
            break
        time.sleep(min(0.5, max(0.0, wait_s - (now - wait_started))))
    write("\n")
    report.wait_s = time.monotonic() - wait_started
    report.pending = len(tracker.waiting)
    report.by_type = dict(by_type)
    if tracker.heights:
        report.first_height, report.last_height = min(tracker.heights), max(tracker.heights)
        report.blocks = len(tracker.heights)
    return report
