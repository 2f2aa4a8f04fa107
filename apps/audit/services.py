"""Writing to the event stream: `emit()` is the one way any app records what happened.

Also the retention job (the only path that removes audit rows) and the record of audit-setting changes.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from apps.audit.catalog import event_type_get
from apps.audit.hashing import event_hash, to_json_value
from apps.audit.models import (
    GENESIS_HASH,
    PLATFORM_CHAIN,
    ActorType,
    AppendOnlyError,
    AuditChain,
    AuditEvent,
    Outcome,
    chain_head_prune,
)
from apps.audit.subscribers import dispatch, notify_in_transaction
from apps.core.context import current_context

logger = logging.getLogger(__name__)


class InvalidEvent(ValueError):
    pass


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, an API key or the system. Stored as a snapshot, never a foreign key."""

    type: str
    id: str = ""
    email: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls(type=ActorType.SYSTEM)

    @classmethod
    def of(cls, actor: Actor | models.Model | None) -> Actor:
        if actor is None:
            return cls.system()
        if isinstance(actor, Actor):
            return actor
        if hasattr(actor, "as_audit_actor"):  # e.g. an API key's principal (apps.rbac.authentication)
            return actor.as_audit_actor()
        if getattr(actor, "is_authenticated", False):
            return cls(type=ActorType.USER, id=str(actor.pk), email=getattr(actor, "email", "") or "")
        raise InvalidEvent(f"cannot record {actor!r} as an actor")


@dataclass(frozen=True)
class Target:
    type: str
    id: str

    @classmethod
    def of(cls, target: Target | models.Model | None) -> Target | None:
        if target is None or isinstance(target, Target):
            return target
        return cls(type=target._meta.model_name, id=str(target.pk))


def chain_key_for(organization_id: uuid.UUID | str | None) -> str:
    # Canonical form, so "ABC…" and UUID("abc…") never open two chains for one organization.
    return str(uuid.UUID(str(organization_id))) if organization_id else PLATFORM_CHAIN


def emit(
    *,
    action: str,
    actor: Actor | models.Model | None = None,
    organization_id: uuid.UUID | str | None = None,
    target: Target | models.Model | None = None,
    outcome: str = Outcome.SUCCESS,
    changes: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to its chain inside the caller's transaction.

    If the caller's transaction rolls back, the event is gone with it; if the event cannot be
    written, the exception propagates and the caller's change fails too. Subscribers run on commit.
    """
    event_type = event_type_get(action)
    metadata = to_json_value(metadata or {})
    unknown = sorted(set(metadata) - set(event_type.fields))
    if unknown:
        raise InvalidEvent(f"{action}: metadata keys {unknown} are not declared in the catalog")
    if outcome not in Outcome.values:
        raise InvalidEvent(f"outcome must be one of {Outcome.values}")
    who = Actor.of(actor)
    what = Target.of(target)
    ctx = current_context()
    chain_key = chain_key_for(organization_id)

    with transaction.atomic():
        # Create the chain head if this is the chain's first event, then lock it: concurrent
        # emitters into one chain queue here, so each links to the true previous hash.
        AuditChain.objects.bulk_create([AuditChain(key=chain_key)], ignore_conflicts=True)
        chain = AuditChain.objects.select_for_update().get(key=chain_key)
        event = AuditEvent(
            id=uuid.uuid4(),
            chain_key=chain_key,
            seq=chain.length + 1,
            occurred_at=timezone.now(),
            action=action,
            outcome=outcome,
            actor_type=who.type,
            actor_id=who.id,
            actor_email=who.email,
            organization_id=uuid.UUID(str(organization_id)) if organization_id else None,
            target_type=what.type if what else "",
            target_id=what.id if what else "",
            ip=ctx.ip if ctx else None,
            user_agent=ctx.user_agent if ctx else "",
            request_id=ctx.request_id if ctx else "",
            changes=to_json_value(changes or {}),
            metadata=metadata,
            prev_hash=chain.head_hash,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        AuditChain.objects.filter(key=chain_key).update(head_hash=event.hash, length=event.seq,
                                                         updated_at=event.occurred_at)
        notify_in_transaction(event)
        transaction.on_commit(lambda: dispatch(event))
    return event


# --- retention ------------------------------------------------------------------------------------
# The retention job is the only writer that removes audit rows. Per chain it prunes the oldest rows,
# contiguously from the head, in short transactions (`chain_head_prune` stores the checkpoint and
# deletes), after re-verifying the rows it is about to drop: pruning never erases the evidence of an
# edited or deleted row (such a chain is left alone and `audit_chains_verify_task` reports it).

RETENTION_BATCH_SIZE = 5000


class RetentionRefused(Exception):
    pass


@dataclass(frozen=True)
class ChainPruneResult:
    chain: str
    events_pruned: int = 0
    checkpoint_seq: int | None = None
    refused: str = ""


def _retention_lock(chain_key: str) -> bool:
    """Take the chain's pruning lock for this transaction; False if another run holds it (PostgreSQL)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return True  # SQLite serializes writers on its own
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext('plinto.audit_retention'), hashtext(%s))",
                       [chain_key])
        return bool(cursor.fetchone()[0])


def _prune_batch(*, chain_key: str, older_than: datetime, batch_size: int) -> tuple[int, int | None, bool]:
    """One transaction: prune up to `batch_size` expired rows from the head. (pruned, checkpoint seq, more?)"""
    from apps.audit.selectors import checkpoint_latest, link_problem

    with transaction.atomic():
        if not _retention_lock(chain_key):
            return 0, None, False  # another run is pruning this chain
        checkpoint = checkpoint_latest(chain_key=chain_key)
        expected_seq = checkpoint.seq if checkpoint else 1
        expected_prev = checkpoint.prev_hash if checkpoint else GENESIS_HASH
        rows = list(AuditEvent.objects.filter(chain_key=chain_key, seq__gte=expected_seq).order_by("seq")[:batch_size])
        expired = list(itertools.takewhile(lambda event: event.occurred_at < older_than, rows))
        for event in expired:
            problem = link_problem(event, expected_seq=expected_seq, expected_prev=expected_prev)
            if problem:
                raise RetentionRefused(f"event {event.id}: {problem}")
            expected_seq, expected_prev = event.seq + 1, event.hash
        if not expired:
            return 0, None, False
        checkpoint = chain_head_prune(chain_key=chain_key, through_seq=expired[-1].seq)
        return len(expired), checkpoint.seq, len(expired) == batch_size


def chain_prune(*, chain_key: str, older_than: datetime, batch_size: int = RETENTION_BATCH_SIZE,
                max_batches: int | None = None, deadline: float | None = None) -> ChainPruneResult:
    """Prune one chain's rows that occurred before `older_than`, oldest first, one batch per transaction.

    Stops at the first row still within retention (rows are pruned only contiguously from the head),
    after `max_batches`, or once `time.monotonic()` passes `deadline`; the next run continues. Records
    one `audit.pruned` platform event when it pruned anything. Safe to run twice: the second is a no-op.
    """
    pruned, checkpoint_seq, batches = 0, None, 0
    try:
        while True:
            count, seq, more = _prune_batch(chain_key=chain_key, older_than=older_than, batch_size=batch_size)
            pruned += count
            checkpoint_seq = seq or checkpoint_seq
            batches += 1
            if not more or (max_batches and batches >= max_batches) or (deadline and time.monotonic() > deadline):
                break
    except (RetentionRefused, AppendOnlyError) as exc:
        logger.error("audit retention: chain %s not pruned further: %s", chain_key, exc)
        refused = str(exc)
    else:
        refused = ""
    if pruned:
        with transaction.atomic():
            emit(action="audit.pruned", target=Target(type="audit_chain", id=chain_key), metadata={
                "chain": chain_key, "events_pruned": pruned, "checkpoint_seq": checkpoint_seq})
    return ChainPruneResult(chain=chain_key, events_pruned=pruned, checkpoint_seq=checkpoint_seq, refused=refused)


def _organization_retention_days() -> dict[str, int]:
    """Each organization's `audit_retention_days`, by chain key.

    The one place the audit domain reads an organization setting. It goes through the app registry,
    not an import: audit sits below orgs (ARCHITECTURE.md).
    """
    organization = django_apps.get_model("orgs", "Organization")
    return {str(pk): days for pk, days in organization.objects.values_list("pk", "audit_retention_days")}


def chains_prune(*, now: datetime | None = None, batch_size: int = RETENTION_BATCH_SIZE,
                 max_batches_per_chain: int | None = 20, time_budget_seconds: float | None = None) -> dict[str, int]:
    """The retention job: prune every chain to its retention period.

    Organization chains keep `Organization.audit_retention_days`; the platform chain, and the chains of
    organizations since purged, keep `settings.AUDIT_PLATFORM_RETENTION_DAYS`. `max_batches_per_chain`
    keeps one large backlog from starving the other chains; the time budget keeps a run inside the
    task's time limit. Returns counts for the task result.
    """
    from apps.audit.selectors import chain_key_list

    now = now or timezone.now()
    deadline = time.monotonic() + time_budget_seconds if time_budget_seconds else None
    platform_days = settings.AUDIT_PLATFORM_RETENTION_DAYS
    org_days = _organization_retention_days()
    summary = {"chains": 0, "chains_pruned": 0, "events_pruned": 0, "refused": 0}
    for key in chain_key_list():
        if deadline and time.monotonic() > deadline:
            break
        days = max(1, org_days.get(key, platform_days))
        result = chain_prune(chain_key=key, older_than=now - timedelta(days=days), batch_size=batch_size,
                             max_batches=max_batches_per_chain, deadline=deadline)
        summary["chains"] += 1
        summary["chains_pruned"] += bool(result.events_pruned)
        summary["events_pruned"] += result.events_pruned
        summary["refused"] += bool(result.refused)
    return summary


# --- organization audit settings (changed by staff in the admin) -----------------------------------

AUDIT_SETTING_EVENTS = {"audit_sink": "audit.sink_changed", "audit_retention_days": "audit.retention_changed"}


def audit_settings_change_record(*, actor: Actor | models.Model | None, organization_id: uuid.UUID | str,
                                 changes: dict[str, list[Any]]) -> None:
    """Record a change of an organization's audit sink or retention on its own chain ({field: [old, new]})."""
    for field, action in AUDIT_SETTING_EVENTS.items():
        if field in changes and changes[field][0] != changes[field][1]:
            emit(action=action, actor=actor, organization_id=organization_id,
                 target=Target(type="organization", id=str(organization_id)), changes={field: changes[field]})
