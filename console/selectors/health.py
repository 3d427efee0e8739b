"""What /healthz reports: each dependency's real state, probed now."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

RUNNER_STALE_AFTER = timedelta(seconds=30)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)}


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "mode": "embedded"}
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"ok": True, "mode": "redis"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "mode": "redis", "error": str(exc)}


def check_swingstore() -> dict:
    path = Path(settings.SWINGSTORE_PATH)
    if not path.exists():
        return {"ok": False, "path": str(path), "error": "swing-store file missing (run initnode)"}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
        return {"ok": True, "path": str(path), "bytes": path.stat().st_size}
    except sqlite3.Error as exc:
        return {"ok": False, "path": str(path), "error": str(exc)}


def check_runner() -> dict:
    from kernelhost.models import RunnerHeartbeat

    try:
        beat = RunnerHeartbeat.objects.order_by("-beat_at").first()
    except Exception as exc:  # noqa: BLE001 - the database check reports the cause
        return {"ok": False, "error": str(exc)}
    if beat is None:
        return {"ok": False, "error": "no node runner has reported"}
    age = timezone.now() - beat.beat_at
    ok = age <= RUNNER_STALE_AFTER and beat.state != "stopped"
    return {
        "ok": ok,
        "state": beat.state if ok else "stale",
        "pid": beat.pid,
        "last_beat_s": round(age.total_seconds(), 1),
        **({} if ok else {"error": f"last heartbeat {age.total_seconds():.0f}s ago"}),
    }


def health_report() -> tuple[bool, dict]:
    checks = {
        "database": check_database(),
        "redis": check_redis(),
        "swingstore": check_swingstore(),
        "runner": check_runner(),
    }
    healthy = all(check["ok"] for check in checks.values())
    return healthy, {"status": "ok" if healthy else "degraded", "checks": checks}
