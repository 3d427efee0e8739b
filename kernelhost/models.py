"""Non-consensus bookkeeping of the node process (never part of the app hash)."""

from django.db import models


class RunnerHeartbeat(models.Model):
    """The node runner writes one row per node name between blocks; /healthz and the
    dashboard read it to tell a live runner from a dead one."""

    name = models.CharField(max_length=64, unique=True)
    pid = models.IntegerField()
    hostname = models.CharField(max_length=255)
    beat_at = models.DateTimeField()
    started_at = models.DateTimeField()
    state = models.CharField(max_length=32, default="running")
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} pid={self.pid} at {self.beat_at:%H:%M:%S}"
