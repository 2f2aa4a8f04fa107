"""Reading the event stream: chain verification (listing and search come with the audit API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from apps.audit.hashing import event_hash
from apps.audit.models import GENESIS_HASH, AuditChain, AuditEvent


@dataclass(frozen=True)
class ChainVerification:
    chain: str
    ok: bool
    events_checked: int
    first_broken_id: str | None = None
    reason: str = ""


def chain_verify(*, chain_key: str) -> ChainVerification:
    """Recompute a chain from its first row; name the first row whose hash or link does not hold."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    events = AuditEvent.objects.filter(chain_key=chain_key).order_by("seq").iterator(chunk_size=2000)
    for event in events:
        checked += 1
        reason = ""
        if event.seq != expected_seq:
            reason = f"sequence jumps from {expected_seq - 1} to {event.seq}: rows are missing"
        elif event.prev_hash != expected_prev:
            reason = "prev_hash does not match the previous row's hash"
        elif event_hash(event) != event.hash:
            reason = "row content does not match its hash"
        if reason:
            return ChainVerification(chain=chain_key, ok=False, events_checked=checked,
                                     first_broken_id=str(event.id), reason=reason)
        expected_prev = event.hash
        expected_seq += 1

    head = AuditChain.objects.filter(key=chain_key).first()
    if head is not None and (head.length != checked or head.head_hash != expected_prev):
        return ChainVerification(chain=chain_key, ok=False, events_checked=checked,
                                 reason=f"chain head records {head.length} events; the newest rows are missing")
    return ChainVerification(chain=chain_key, ok=True, events_checked=checked)


def chain_key_list() -> list[str]:
    return list(AuditChain.objects.order_by("key").values_list("key", flat=True))


@dataclass(frozen=True)
class EventFilters:
    action: str | None = None
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: Any = None
    until: Any = None
    outcome: str | None = None


def event_list(*, organization_id: Any, filters: EventFilters) -> QuerySet[AuditEvent]:
    """One organization's events (its chain only: never another tenant's), filtered, newest first by seq."""
    events = AuditEvent.objects.filter(chain_key=str(organization_id))
    if filters.action:  # exact, or a prefix with a trailing * ("member.*")
        events = (events.filter(action__startswith=filters.action[:-1]) if filters.action.endswith("*")
                  else events.filter(action=filters.action))
    if filters.actor_id:
        events = events.filter(actor_id=filters.actor_id)
    if filters.target_type:
        events = events.filter(target_type=filters.target_type)
    if filters.target_id:
        events = events.filter(target_id=filters.target_id)
    if filters.outcome:
        events = events.filter(outcome=filters.outcome)
    if filters.since:
        events = events.filter(occurred_at__gte=filters.since)
    if filters.until:
        events = events.filter(occurred_at__lt=filters.until)
    return events.order_by("-seq")


def event_page(events: QuerySet[AuditEvent], *, limit: int,
               before_seq: int | None) -> tuple[list[AuditEvent], int | None]:
    """Keyset page on `seq` (unique and increasing within a chain): new events never shift a page."""
    if before_seq is not None:
        events = events.filter(seq__lt=before_seq)
    rows = list(events[: limit + 1])
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].seq
    return rows, None


def event_get(*, event_id: Any, organization_ids: list[Any]) -> AuditEvent | None:
    return AuditEvent.objects.filter(pk=event_id, chain_key__in=[str(o) for o in organization_ids]).first()


def event_stats(*, organization_id: Any, filters: EventFilters) -> dict[str, Any]:
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    events = event_list(organization_id=organization_id, filters=filters).order_by()
    return {
        "by_action": {r["action"]: r["n"] for r in events.values("action").annotate(n=Count("id")).order_by("action")},
        "by_outcome": {r["outcome"]: r["n"] for r in events.values("outcome").annotate(n=Count("id"))
                       .order_by("outcome")},
        "by_day": {str(r["day"]): r["n"] for r in events.annotate(day=TruncDate("occurred_at"))
                   .values("day").annotate(n=Count("id")).order_by("day")},
        "total": events.count(),
    }
