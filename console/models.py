"""The console's own tables: the audit log and bundle uploads.

Neither is consensus state: the chain decides what is installed; these rows record who asked
for what, when, and how it went (see docs/arch-bundles.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One privileged action (or a refused attempt at one): who, what, on what, how it ended."""

    OK = "ok"
    FAILED = "failed"
    DENIED = "denied"
    OUTCOMES = [(OK, "ok"), (FAILED, "failed"), (DENIED, "denied")]

    who = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    username = models.CharField(max_length=150, blank=True, default="")  # kept if the user is deleted
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=255, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=OUTCOMES)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action} {self.target} {self.outcome}"


class BundleUpload(models.Model):
    """A bundle an admin uploaded, and its validation job's progress and result."""

    PENDING = "pending"
    VALIDATING = "validating"
    VALID = "valid"
    INVALID = "invalid"
    SUBMITTED = "submitted"
    INSTALLED = "installed"
    STATUSES = [(s, s) for s in (PENDING, VALIDATING, VALID, INVALID, SUBMITTED, INSTALLED)]
    IN_PROGRESS = (PENDING, VALIDATING, VALID, SUBMITTED)

    KIND_VAT = "vat"
    KIND_KERNEL = "kernel"
    KINDS = [(KIND_VAT, "vat"), (KIND_KERNEL, "kernel")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    filename = models.CharField(max_length=255)
    size = models.PositiveIntegerField()
    sha512 = models.CharField(max_length=128)
    bundle_id = models.CharField(max_length=131, blank=True, default="", db_index=True)  # set once it is a bundle
    kind = models.CharField(max_length=16, choices=KINDS)  # as declared on the form
    data = models.BinaryField()  # the uploaded bytes (at most BUNDLE_MAX_BYTES)
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    steps = models.JSONField(default=list, blank=True)  # [{"key", "label", "state", "detail"}]
    manifest = models.JSONField(default=dict, blank=True)
    tx_hash = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"upload {self.id} {self.filename} {self.status}"


class PreflightRun(models.Model):
    """An upgrade pre-flight for a candidate kernel bundle: installed, validated, and every
    vat's current transcript span replayed under it without divergence."""

    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    STATUSES = [(s, s) for s in (PENDING, RUNNING, PASSED, FAILED)]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    bundle_id = models.CharField(max_length=131, db_index=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    steps = models.JSONField(default=list, blank=True)  # [{"key", "label", "state", "detail"}]
    vats = models.JSONField(default=list, blank=True)  # [{"vatID", "name", "deliveries", "state", "detail"}]
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"preflight {self.id} {self.bundle_id[:19]} {self.status}"
