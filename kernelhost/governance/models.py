"""Governance state. Consensus rows (everything but VoterLink) are covered by the app hash
through `services.gov_state_hash()`, which reads proposal numbers and heights, never database
ids or wall-clock timestamps."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class GovParamsRecord(models.Model):
    """The one row of governance parameters (set at genesis; defaults when absent)."""

    key = models.CharField(max_length=16, unique=True, default="params")
    values = models.JSONField(default=dict)


class Proposal(models.Model):
    VOTING = "voting"
    PASSED = "passed"
    REJECTED = "rejected"
    FAILED = "failed"  # the vote passed but executing the content failed
    STATUSES = ((VOTING, "Voting"), (PASSED, "Passed"), (REJECTED, "Rejected"), (FAILED, "Failed"))

    EXEC_NONE = ""
    EXEC_PENDING = "pending"  # handed to the host, result not known yet
    EXEC_DONE = "done"
    EXEC_FAILED = "failed"

    number = models.PositiveBigIntegerField(unique=True)  # the chain's proposal id, 1, 2, ...
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    content = models.JSONField()
    proposer = models.CharField(max_length=128)
    expedited = models.BooleanField(default=False)  # under expedited rules right now
    converted = models.BooleanField(default=False)  # was expedited, failed, now regular
    status = models.CharField(max_length=16, choices=STATUSES, default=VOTING)
    submit_height = models.PositiveBigIntegerField()
    submit_time = models.CharField(max_length=40, blank=True)  # block time, display only
    voting_end_height = models.PositiveBigIntegerField()
    expedited_tally = models.JSONField(null=True, blank=True)  # the tally that converted it
    final_tally = models.JSONField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    outcome_reason = models.TextField(blank=True)
    decided_height = models.PositiveBigIntegerField(null=True, blank=True)
    execution_status = models.CharField(max_length=16, blank=True, default=EXEC_NONE)
    execution_message = models.TextField(blank=True)
    execution_height = models.PositiveBigIntegerField(null=True, blank=True)
    # resumeKernel: the pause this proposal answers (from the block context at submission).
    paused_height = models.PositiveBigIntegerField(null=True, blank=True)
    paused_reason = models.TextField(blank=True)
    paused_action_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-number",)
        indexes = [models.Index(fields=("status", "voting_end_height"))]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"

    @property
    def is_active(self) -> bool:
        return self.status == self.VOTING


class Vote(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=128)  # validator address
    option = models.CharField(max_length=8)
    first_height = models.PositiveBigIntegerField()
    height = models.PositiveBigIntegerField()  # of the latest (possibly changed) vote
    changes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("proposal", "voter"), name="gov_one_vote_per_voter")]
        ordering = ("voter",)


class UpgradePlan(models.Model):
    SCHEDULED = "scheduled"
    APPLIED = "applied"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"

    seq = models.PositiveBigIntegerField(unique=True)  # deterministic order, 1, 2, ...
    name = models.CharField(max_length=64)
    height = models.PositiveBigIntegerField()
    bundle_id = models.CharField(max_length=140)
    info = models.TextField(blank=True)
    proposal_number = models.PositiveBigIntegerField()
    status = models.CharField(max_length=16, default=SCHEDULED)
    status_height = models.PositiveBigIntegerField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ("-seq",)


class AppliedUpgrade(models.Model):
    """x/upgrade's applied-plan history, failures included."""

    seq = models.PositiveBigIntegerField(unique=True)
    name = models.CharField(max_length=64)
    height = models.PositiveBigIntegerField()
    old_bundle_id = models.CharField(max_length=140, blank=True)
    new_bundle_id = models.CharField(max_length=140, blank=True)
    ok = models.BooleanField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ("-seq",)


class VoterLink(models.Model):
    """Console user -> the validator whose power they vote with. Not consensus state."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voter_link")
    validator_address = models.CharField(max_length=128)

    def __str__(self) -> str:
        return f"{self.user} -> {self.validator_address}"
