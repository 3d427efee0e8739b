"""Upgrade pre-flight for a candidate kernel bundle.

1. installed: the swing-store holds it and the chain's selector sees no problem with it as a
   kernel upgrade target (`kernel_bundle_problem`);
2. validated: a kernel bundle with a supported API version that imports cleanly (the same
   child-process test-load as an upload);
3. replay: in a child process, every vat's *current transcript span* is replayed under the
   candidate kernel's own liveslots and sandbox (its `worker.LocalWorker` and
   `vat_warehouse.replay_one`, the code the kernel itself replays with), comparing every
   syscall with the recorded one. Any divergence fails the pre-flight, naming the vat and the
   transcript position.

The child opens the swing-store read-only and reports one JSON line per vat, so the parent
publishes progress as it goes (topic "job.<run id>").
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile

from django.conf import settings
from django.db import transaction

from console import live
from console.audit import FAILED, OK, audit_record
from console.bundles.testload import CPU_SECONDS, MEMORY_BYTES, _child_env, run_test_load
from console.models import PreflightRun

log = logging.getLogger(__name__)

LINE_MARK = "KC-PREFLIGHT "
TIMEOUT_S = 600
STEP_LABELS = (
    ("installed", "Installed in the swing-store and accepted by the chain as a kernel bundle"),
    ("validated", "Validated: kernel bundle, supported API version, imports cleanly"),
    ("replay", "Every vat's current transcript span replays under it without divergence"),
)

CHILD_SCRIPT = r'''
import json, os, resource, sys, traceback
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
def emit(**msg):
    out.write("KC-PREFLIGHT " + json.dumps(msg) + "\n")
    out.flush()
try:
    path, bundle_id, mem, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    from kernelhost.controller.kernel_loader import load_kernel_bundle
    from kernelhost.swingstore import open_swingstore
    from kernelhost.swingstore.bundleformat import read_bundle_files, validate_bundle
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    store = open_swingstore(path, readonly=True)
    with store.read_transaction():
        kv, transcripts = store.kernel.kv, store.kernel.transcripts
        pkg = load_kernel_bundle(bundle_id, store.kernel.bundles.get_bundle(bundle_id))
        import importlib
        LocalWorker = importlib.import_module(pkg.__name__ + ".worker").LocalWorker
        replay_one = importlib.import_module(pkg.__name__ + ".vat_warehouse").replay_one
        kernel_vats = getattr(importlib.import_module(pkg.__name__ + ".vats"), "KERNEL_VATS", {})
        ids = []
        for name in json.loads(kv.get("vat.names") or "[]"):
            vat_id = kv.get("vat.name." + name)
            if vat_id and vat_id not in ids:
                ids.append(vat_id)
        for vat_id in json.loads(kv.get("vat.dynamicIDs") or "[]"):
            if vat_id not in ids:
                ids.append(vat_id)
        plan = []
        for vat_id in ids:
            bounds = transcripts.get_current_span_bounds(vat_id)
            options = json.loads(kv.get(vat_id + ".options") or "{}")
            plan.append((vat_id, options.get("name") or vat_id, bounds))
        emit(type="plan", vats=[{"vatID": v, "name": n, "deliveries": (b["endPos"] - b["startPos"] - 1) if b else 0,
                                 "state": "waiting" if b else "skipped",
                                 "detail": "" if b else "no current transcript span (terminated)"}
                                for v, n, b in plan])
        bundles = {}
        for vat_id, name, bounds in plan:
            if bounds is None:
                continue
            try:
                source = json.loads(kv.get(vat_id + ".source") or "{}")
                if "kernelVat" in source:
                    loader = kernel_vats.get(source["kernelVat"])
                    if loader is None:
                        raise LookupError(f"the candidate kernel has no built-in vat {source['kernelVat']!r}")
                    worker = LocalWorker(namespace_loader=loader)
                else:
                    bid = source["bundleID"]
                    if bid not in bundles:
                        data = store.kernel.bundles.get_bundle(bid)
                        bundles[bid] = (validate_bundle(data, bid).entry_member, read_bundle_files(data, bid))
                    entry, files = bundles[bid]
                    worker = LocalWorker(files=files, entry=entry)
                items = transcripts.read_span(vat_id)
                first = json.loads(items[0]) if items else None
                if not first or first["d"][0] not in ("initialize-worker", "load-snapshot"):
                    raise ValueError("the current span does not start with initialize-worker")
                start = bounds["startPos"]
                try:
                    for offset, raw in enumerate(items[1:], start=1):
                        replay_one(vat_id, worker, json.loads(raw), start + offset)
                finally:
                    worker.shutdown()
                emit(type="vat", vatID=vat_id, state="ok", detail=f"{len(items) - 1} deliveries replayed")
            except BaseException as exc:
                text = str(exc).strip()
                emit(type="vat", vatID=vat_id, state="failed", detail=f"{type(exc).__name__}: {text}"[:600])
    emit(type="done")
except BaseException as exc:
    emit(type="fatal", detail=f"{type(exc).__name__}: {exc}"[:600])
'''


def new_steps() -> list[dict]:
    return [{"key": key, "label": label, "state": "waiting", "detail": ""} for key, label in STEP_LABELS]


def preflight_view(run: PreflightRun) -> dict:
    badge = {"passed": "ok", "failed": "bad", "running": "info", "pending": "info"}[run.status]
    return {"type": "preflight", "id": str(run.id), "bundleID": run.bundle_id, "status": run.status, "badge": badge,
            "progress": run.progress, "message": run.message, "steps": run.steps or new_steps(), "vats": run.vats,
            "requestedBy": run.requested_by.get_username() if run.requested_by_id else "",
            "done": run.status in (PreflightRun.PASSED, PreflightRun.FAILED)}


def _publish(run: PreflightRun) -> None:
    try:
        live.publish(f"job.{run.id}", preflight_view(run))
    except Exception:  # noqa: BLE001 - live updates are best effort
        log.exception("could not publish preflight %s", run.id)


def _save(run: PreflightRun, **fields) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    _publish(run)


def _step(run: PreflightRun, key: str, state: str, detail: str = "", **fields) -> None:
    for step in run.steps:
        if step["key"] == key:
            step["state"], step["detail"] = state, detail
    _save(run, **fields)


def _finish(run: PreflightRun, ok: bool, message: str, failed_step: str | None = None) -> str:
    if failed_step:
        reached = False
        for step in run.steps:
            if step["key"] == failed_step:
                reached = True
            elif reached and step["state"] == "waiting":
                step["state"] = "skipped"
    _save(run, status=PreflightRun.PASSED if ok else PreflightRun.FAILED, message=message,
          progress=100 if ok else run.progress)
    audit_record(run.requested_by, "upgrade.preflight", target=run.bundle_id, outcome=OK if ok else FAILED,
                 detail={"run": str(run.id), "message": message})
    return run.status


def preflight_job(run_id: str) -> str:
    """Run one pre-flight (an rq job, or called directly by tests). Returns the final status."""
    from console.bundles.selectors import StoreUnavailable, swingstore_reader
    from kernelhost.chain.selectors import kernel_bundle_problem

    run = PreflightRun.objects.select_related("requested_by").filter(pk=run_id).first()
    if run is None:
        return "missing"
    if run.status != PreflightRun.PENDING:
        return run.status
    if not run.steps:
        run.steps = new_steps()
    bundle_id = run.bundle_id

    _step(run, "installed", "running", status=PreflightRun.RUNNING, progress=2, message="Checking the bundle…")
    try:
        with swingstore_reader() as store:
            data = store.kernel.bundles.get_bundle(bundle_id) if store.kernel.bundles.has_bundle(bundle_id) else None
    except StoreUnavailable as exc:
        _step(run, "installed", "failed", str(exc))
        return _finish(run, False, f"The swing-store cannot be read: {exc}", "installed")
    problem = None if data is not None else f"bundle {bundle_id} is not in the swing-store"
    problem = problem or kernel_bundle_problem(bundle_id)
    if problem:
        _step(run, "installed", "failed", problem)
        return _finish(run, False, f"Not installed: {problem}. Upload it first.", "installed")
    _step(run, "installed", "ok", f"{len(data):,} bytes in the swing-store", progress=5)

    _step(run, "validated", "running")
    result = run_test_load(data, "kernel")
    if not result.ok:
        _step(run, "validated", "failed", result.message)
        return _finish(run, False, f"Not a usable kernel: {result.message}", "validated")
    _step(run, "validated", "ok", result.message, progress=10, message="Replaying every vat under the candidate…")

    _step(run, "replay", "running")
    ok, detail = _replay_all(run)
    if not ok:
        _step(run, "replay", "failed", detail)
        return _finish(run, False, f"Replay diverged: {detail}", "replay")
    _step(run, "replay", "ok", detail)
    return _finish(run, True, f"Pre-flight passed: {detail}.")


def _replay_all(run: PreflightRun) -> tuple[bool, str]:
    cmd = [sys.executable, "-B", "-c", CHILD_SCRIPT, str(settings.SWINGSTORE_PATH), run.bundle_id,
           str(MEMORY_BYTES * 2), str(CPU_SECONDS * 15)]
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child cannot block on it
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                            cwd=str(settings.BASE_DIR), env=_child_env(), text=True)
    fatal, finished = "", False
    try:
        for line in proc.stdout:
            if not line.startswith(LINE_MARK):
                continue
            msg = json.loads(line[len(LINE_MARK):])
            if msg["type"] == "plan":
                run.vats = msg["vats"]
                _save(run)
            elif msg["type"] == "vat":
                for row in run.vats:
                    if row["vatID"] == msg["vatID"]:
                        row["state"], row["detail"] = msg["state"], msg["detail"]
                todo = [r for r in run.vats if r["state"] != "skipped"] or [None]
                done = sum(1 for r in run.vats if r["state"] in ("ok", "failed"))
                _save(run, progress=10 + int(88 * done / len(todo)))
            elif msg["type"] == "fatal":
                fatal = msg["detail"]
            elif msg["type"] == "done":
                finished = True
        proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        fatal = f"the replay took more than {TIMEOUT_S} s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        errors.seek(0)
        stderr_tail = errors.read().decode("utf-8", "replace")[-400:]
        errors.close()
    if fatal:
        return False, fatal
    if not finished:
        return False, f"the replay process exited with code {proc.returncode}: {stderr_tail.strip()}"
    failed = [r for r in run.vats if r["state"] == "failed"]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more vat{'s' if len(failed) > 2 else ''}, listed below)" if len(failed) > 1 else ""
        return False, f"{first['vatID']} ({first['name']}): {first['detail']}{more}"
    replayed = [r for r in run.vats if r["state"] == "ok"]
    total = sum(r["deliveries"] for r in replayed)
    return True, f"{len(replayed)} vat{'s' if len(replayed) != 1 else ''}, {total} deliveries replayed"


@transaction.atomic
def preflight_start(*, user, bundle_id: str) -> PreflightRun:
    from console.jobs import enqueue

    run = PreflightRun.objects.create(requested_by=user if getattr(user, "is_authenticated", False) else None,
                                      bundle_id=bundle_id, steps=new_steps())
    audit_record(user, "upgrade.preflight.start", target=bundle_id, outcome=OK, detail={"run": str(run.id)})
    enqueue(preflight_job, str(run.id))
    return run


__all__ = ["preflight_job", "preflight_start", "preflight_view"]
