"""Audit rows: ids and snapshots (no foreign keys, they outlive what they describe), hash-chained.

One chain per organization (key = organization id) plus the platform chain (key "platform").
Rows are append-only: the model refuses updates and deletes, and on PostgreSQL a trigger rejects
UPDATE and DELETE (migration 0002), except deletes by the retention job, which sets
`plinto.audit_retention = on` for its transaction.
"""

import uuid

from django.db import models

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
