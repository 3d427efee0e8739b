"""/healthz reports each dependency's real state; /metrics serves Prometheus text with a token."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from django.utils import timezone

from kernelhost.models import RunnerHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def swingstore_file(settings, tmp_path):
    path = tmp_path / "swingstore.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    settings.SWINGSTORE_PATH = str(path)
    return path


def beat(age_s: float = 0.0) -> None:
    now = timezone.now()
    RunnerHeartbeat.objects.update_or_create(
        name="node", defaults={"pid": 1, "hostname": "h", "beat_at": now - timedelta(seconds=age_s), "started_at": now}
    )


def test_healthz_all_up(client, swingstore_file, settings):
    settings.REDIS_URL = None
    beat()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["redis"] == {"ok": True, "mode": "embedded"}
    assert body["checks"]["swingstore"]["path"] == str(swingstore_file)


def test_healthz_503_when_swingstore_missing(client, settings, tmp_path):
    settings.SWINGSTORE_PATH = str(tmp_path / "absent.sqlite")
    beat()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "swing-store file missing" in response.json()["checks"]["swingstore"]["error"]


def test_healthz_503_when_runner_stale(client, swingstore_file):
    beat(age_s=120)
    body = client.get("/healthz").json()
    assert body["checks"]["runner"]["ok"] is False
    assert body["checks"]["runner"]["state"] == "stale"


def test_healthz_reports_redis_down(client, swingstore_file, settings):
    # A port nothing listens on stands in for a stopped Redis.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    beat()
    response = client.get("/healthz")
    assert response.status_code == 503
    redis_check = response.json()["checks"]["redis"]
    assert redis_check["ok"] is False and redis_check["mode"] == "redis"


def test_metrics_requires_the_token(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_metrics_serves_prometheus_text(client, swingstore_file):
    beat()
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer test-metrics-token")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'kernelconsole_dependency_up{dependency="database"} 1.0' in text
    assert 'kernelconsole_dependency_up{dependency="runner"} 1.0' in text
