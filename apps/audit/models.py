"""Audit rows: ids and snapshots (no foreign keys, they outlive what they describe), hash-chained.

One chain per organization (key = organization id) plus the platform chain (key "platform").
Rows are append-only: the model refuses updates and deletes, and on PostgreSQL a trigger rejects
UPDATE and DELETE (migration 0002), except deletes by the retention job, which sets
`plinto.audit_retention = on` for its transaction. The retention job deletes only through
`chain_head_prune()` below: the oldest rows of one chain, contiguously from its head, after storing an
`AuditCheckpoint` that verification starts from instead of the genesis hash.
"""

import uuid

from django.db import connections, models, router

PLATFORM_CHAIN = "platform"
GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    pass


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "System"


class SinkKind(models.TextChoices):
    """Where an organization's committed events are streamed for a SIEM (apps.audit.sinks)."""

    NONE = "", "Off"
    STDOUT = "stdout", "Standard output (JSON lines)"
    SYSLOG = "syslog", "Syslog (JSON lines)"


class AuditChain(models.Model):
    """Head of one chain. Its row is locked while an event is appended, so the chain never forks."""

    key = models.CharField(max_length=64, primary_key=True)
    head_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    length = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.length} events)"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AppendOnlyError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chain_key = models.CharField(max_length=64)
    seq = models.BigIntegerField(help_text="Position in the chain, from 1.")
    occurred_at = models.DateTimeField()
    action = models.CharField(max_length=100)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    organization_id = models.UUIDField(null=True, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain_key", "seq"], name="audit_event_chain_seq_unique"),
        ]
        # Listing is per chain, newest first, by `seq`: each filter has an index ending in seq so the
        # first page of any filter is an index range scan (docs/benchmarks.md).
        indexes = [
            models.Index(fields=["organization_id", "-occurred_at"], name="audit_event_org_time"),
            models.Index(fields=["action", "-occurred_at"], name="audit_event_action_time"),
            models.Index(fields=["actor_id", "-occurred_at"], name="audit_event_actor_time"),
            models.Index(fields=["chain_key", "action", "-seq"], name="audit_event_chain_action"),
            models.Index(fields=["chain_key", "actor_id", "-seq"], name="audit_event_chain_actor"),
            models.Index(fields=["chain_key", "target_type", "target_id", "-seq"], name="audit_event_chain_target"),
            models.Index(fields=["chain_key", "-occurred_at"], name="audit_event_chain_time"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_type}:{self.actor_email or self.actor_id or '-'}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only")


class AuditCheckpointQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AppendOnlyError("audit checkpoints are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit checkpoints are append-only")


class AuditCheckpoint(models.Model):
    """Where a pruned chain now starts: verification expects row `seq` to link to `prev_hash`.

    Written by `chain_head_prune()` in the transaction that deletes rows 1 .. seq - 1, so a committed
    checkpoint always describes exactly what is gone. Append-only like the events (trigger in 0004).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chain_key = models.CharField(max_length=64)
    seq = models.BigIntegerField(help_text="The first row kept: every row before it was pruned.")
    prev_hash = models.CharField(max_length=64, help_text="Hash of the last pruned row, which row `seq` links to.")
    events_pruned = models.BigIntegerField(help_text="Rows of this chain pruned so far, this checkpoint included.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditCheckpointQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_key", "seq"], name="audit_checkpoint_chain_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.chain_key} from seq {self.seq} ({self.events_pruned} pruned)"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit checkpoints are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit checkpoints are append-only")


def chain_head_prune(*, chain_key: str, through_seq: int) -> AuditCheckpoint:
    """The one sanctioned deletion of audit rows; only the retention job (`chain_prune`) calls it.

    Deletes rows `start .. through_seq` of one chain, where `start` is where the chain begins now
    (its latest checkpoint, else 1), after storing the checkpoint that says so. Runs in the caller's
    transaction and raises `AppendOnlyError` (rolling back the checkpoint with it) unless that whole
    range is present: pruning is contiguous from the head, never a gap. The queryset and model
    refusals stay; this raw DELETE is the path around them, and on PostgreSQL it is the only
    statement run with `plinto.audit_retention = on`.
    """
    connection = connections[router.db_for_write(AuditEvent)]
    if not connection.in_atomic_block:
        raise AppendOnlyError("pruning runs inside the transaction that stores its checkpoint")
    latest = AuditCheckpoint.objects.filter(chain_key=chain_key).order_by("-seq").first()
    start = latest.seq if latest else 1
    last = AuditEvent.objects.filter(chain_key=chain_key, seq=through_seq).only("hash").first()
    if through_seq < start or last is None:
        raise AppendOnlyError(f"{chain_key}: row {through_seq} is not in the chain's head (it starts at {start})")
    pruned_before = latest.events_pruned if latest else 0
    checkpoint = AuditCheckpoint.objects.create(chain_key=chain_key, seq=through_seq + 1, prev_hash=last.hash,
                                                events_pruned=pruned_before + through_seq - start + 1)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL plinto.audit_retention = 'on'")
        cursor.execute(f"DELETE FROM {table} WHERE chain_key = %s AND seq <= %s",  # noqa: S608 - table name only
                       [chain_key, through_seq])
        deleted = cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL plinto.audit_retention = 'off'")  # the rest of the transaction is guarded
    if deleted != through_seq - start + 1:
        raise AppendOnlyError(f"{chain_key}: rows {start}..{through_seq} are not all present "
                              f"({deleted} found); refusing to prune into a gap")
    return checkpoint
