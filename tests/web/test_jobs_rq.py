"""With Redis configured, jobs really travel through rq: enqueued after commit, run by a worker."""

from __future__ import annotations

import os

import pytest
from django.db import transaction

from console import jobs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI sets it)"),
]


def record_job(key: str, value: str) -> None:
    from django.utils import timezone

    from kernelhost.models import RunnerHeartbeat

    now = timezone.now()
    RunnerHeartbeat.objects.create(name=key, pid=0, hostname=value, beat_at=now, started_at=now)


def test_job_goes_through_redis_after_commit(settings):
    import django_rq

    settings.JOBS_MODE = "rq"
    queue = django_rq.get_queue("default")
    queue.empty()
    with transaction.atomic():
        jobs.enqueue(record_job, "rq-probe", "ran-by-rq")
        assert queue.count == 0  # nothing leaves before the transaction commits
    assert queue.count == 1
    django_rq.get_worker("default", worker_class="rq.worker.SimpleWorker").work(burst=True, with_scheduler=False)
    from kernelhost.models import RunnerHeartbeat

    assert RunnerHeartbeat.objects.get(name="rq-probe").hostname == "ran-by-rq"
