"""Background jobs: django-rq when Redis is configured, an in-process worker otherwise.

Jobs are module-level functions taking plain ids, so tests can call them directly and the
in-process runner and rq behave the same. Jobs are enqueued after the surrounding
transaction commits, so a worker never sees a row that might still roll back.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _embedded_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kc-job")
        return _executor


def _run_in_process(func, args, kwargs):
    close_old_connections()
    try:
        return func(*args, **kwargs)
    except Exception:
        log.exception("in-process job %s failed", getattr(func, "__name__", func))
        raise
    finally:
        close_old_connections()


def uses_rq() -> bool:
    """rq when Redis is configured, unless JOBS_MODE says otherwise (the test settings run jobs
    in-process so browser tests need no worker process; tests/web/test_jobs_rq.py drives a
    real rq worker against Redis)."""
    mode = getattr(settings, "JOBS_MODE", None) or ("rq" if settings.REDIS_URL else "inprocess")
    return mode == "rq"


def enqueue(func, *args, queue: str = "default", **kwargs) -> None:
    """Run `func(*args, **kwargs)` in the background once the current transaction commits."""

    def submit():
        if uses_rq():
            import django_rq

            django_rq.get_queue(queue).enqueue(func, *args, **kwargs)
        else:
            _embedded_executor().submit(_run_in_process, func, args, kwargs)

    transaction.on_commit(submit)


def drain(*, cancel_pending: bool = False) -> None:
    """Wait for in-process jobs to finish and start a fresh pool next time (a clean stop for
    `serve`, and a clean boundary between tests)."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=cancel_pending)
