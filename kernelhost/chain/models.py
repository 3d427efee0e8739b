"""Chain state. Consensus fields are hashed into the app hash (services.apphash); fields
marked "non-consensus" are bookkeeping for operators and never hashed."""

from __future__ import annotations

from django.db import models

AMOUNT = {"max_digits": 40, "decimal_places": 0}


class NodeState(models.Model):
    """The one row (pk=1) of chain-wide state: height, app hash, the kernel's mode."""

    RUNNING = "running"
    PAUSED = "paused"

    chain_id = models.CharField(max_length=64)
    genesis_time_ms = models.BigIntegerField()
    height = models.BigIntegerField(default=0)  # last committed height
    app_hash = models.CharField(max_length=64, default="")
    last_block_time_ms = models.BigIntegerField(default=0)
    kernel_state = models.CharField(max_length=16, default=RUNNING)
    paused_height = models.BigIntegerField(null=True, blank=True)
    paused_reason = models.TextField(null=True, blank=True)
    paused_action_id = models.CharField(max_length=64, null=True, blank=True)
    kernel_bundle_id = models.CharField(max_length=140, default="")
    next_action_seq = models.BigIntegerField(default=1)
    # Host actions decided by governance at the end of block h, executed by the host at the
    # start of block h+1's kernel phase (before any kernel work, so a failed upgrade can be
    # undone by a swing-store rollback). JSON list of HostAction.as_dict().
    pending_host_actions = models.JSONField(default=list)
    # Running sum (mod 2**256) of sha256(key, value) over the export-data mirror: an
    # order-independent hash of a large table, updated per record instead of rescanned.
    export_data_acc = models.CharField(max_length=64, default="0" * 64)
    # Run policy (genesis): crank budget per block; unfinished work continues next block.
    crank_budget = models.IntegerField(default=2000)
    params = models.JSONField(default=dict)  # genesis "chain" params kept for the host

    def __str__(self) -> str:
        return f"{self.chain_id}@{self.height} kernel={self.kernel_state}"


class Block(models.Model):
    CHAIN_SEND_LOG_LIMIT = 1000
    PROPOSED = "proposed"
    COMMITTED = "committed"

    height = models.BigIntegerField(unique=True)
    time_ms = models.BigIntegerField()
    tx_count = models.IntegerField(default=0)
    state = models.CharField(max_length=16, default=PROPOSED)
    app_hash = models.CharField(max_length=64, default="")
    # Non-consensus figures of the execution that committed.
    cranks = models.IntegerField(default=0)
    kernel_time_ms = models.FloatField(default=0)
    commit_ms = models.FloatField(default=0)
    chain_sends = models.IntegerField(default=0)
    replayed = models.BooleanField(default=False)
    kernel_status = models.JSONField(default=dict, blank=True)
    # The block's chain-sends in order, [{"send": {...}, "result": {...}}] (at most
    # CHAIN_SEND_LOG_LIMIT; `chain_sends` has the full count). Display only, never hashed;
    # None for blocks committed before the field existed.
    chain_send_log = models.JSONField(null=True, blank=True, default=None)
    proposed_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-height"]

    def __str__(self) -> str:
        return f"block {self.height} ({self.state})"


class Transaction(models.Model):
    PENDING = "pending"  # in the mempool
    INCLUDED = "included"  # in a proposed block, not yet executed
    DONE = "done"  # executed; code/message/data hold the result

    tx_hash = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=64)
    body = models.JSONField()
    status = models.CharField(max_length=16, default=PENDING, db_index=True)
    height = models.BigIntegerField(null=True, blank=True, db_index=True)
    index = models.IntegerField(null=True, blank=True)
    code = models.IntegerField(null=True, blank=True)
    message = models.TextField(default="", blank=True)
    data = models.JSONField(default=dict, blank=True)
    # A swingset/send whose result promise the kernel has not settled yet: the host checks
    # these after each block (an indexed flag, not a scan of every send ever made).
    awaiting_kernel = models.BooleanField(default=False, db_index=True)
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["height", "index"])]

    def __str__(self) -> str:
        return f"tx {self.tx_hash[:12]} {self.type} {self.status}"


class Account(models.Model):
    address = models.CharField(max_length=128, unique=True)

    def __str__(self) -> str:
        return self.address


class Balance(models.Model):
    address = models.CharField(max_length=128)
    denom = models.CharField(max_length=64)
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["address", "denom"], name="chain_balance_unique")]

    def __str__(self) -> str:
        return f"{self.address} {self.amount}{self.denom}"


class Validator(models.Model):
    address = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=128, default="")
    power = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.name or self.address} ({self.power})"


class Action(models.Model):
    """Chain -> kernel work (swingset txs, balance updates) waiting for a committed kernel
    block to consume it. `seq` is a consensus counter (NodeState.next_action_seq), never the
    database id, so a rolled-back attempt cannot shift the order."""

    PENDING = "pending"
    CONSUMED = "consumed"
    SKIPPED = "skipped"

    seq = models.BigIntegerField(unique=True)
    action_id = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=64)
    body = models.JSONField()
    state = models.CharField(max_length=16, default=PENDING, db_index=True)
    queued_height = models.BigIntegerField()
    consumed_height = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"action {self.action_id} {self.kind} {self.state}"


class ExportDataEntry(models.Model):
    """The swing-store export-data mirror (the IAVL role)."""

    key = models.CharField(max_length=255, unique=True)
    value = models.TextField()

    def __str__(self) -> str:
        return self.key


class StorageEntry(models.Model):
    """Chain storage written by the kernel through the bridge (the vstorage role)."""

    path = models.CharField(max_length=255, unique=True)
    value = models.TextField()

    def __str__(self) -> str:
        return self.path
