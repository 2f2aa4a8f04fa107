"""Writing to the event stream: `emit()` is the one way any app records what happened."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from apps.audit.catalog import event_type_get
from apps.audit.hashing import event_hash, to_json_value
from apps.audit.models import PLATFORM_CHAIN, ActorType, AuditChain, AuditEvent, Outcome
from apps.audit.subscribers import dispatch
from apps.core.context import current_context


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
        transaction.on_commit(lambda: dispatch(event))
    return event
