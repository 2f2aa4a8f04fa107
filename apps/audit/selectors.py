"""Reading the event stream: chain verification (from genesis or the retention checkpoint), listing, search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import QuerySet

from apps.audit.hashing import event_hash
from apps.audit.models import GENESIS_HASH, AuditChain, AuditCheckpoint, AuditEvent


@dataclass(frozen=True)
class ChainVerification:
    chain: str
    ok: bool
    events_checked: int
    first_broken_id: str | None = None
    reason: str = ""
    events_pruned: int = 0  # rows before the retention checkpoint verification started from


def checkpoint_latest(*, chain_key: str) -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.filter(chain_key=chain_key).order_by("-seq").first()


def link_problem(event: AuditEvent, *, expected_seq: int, expected_prev: str) -> str:
    """Why `event` does not continue its chain at `expected_seq` after `expected_prev` ("" when it does)."""
    if event.seq != expected_seq:
        return f"sequence jumps from {expected_seq - 1} to {event.seq}: rows are missing"
    if event.prev_hash != expected_prev:
        return "prev_hash does not match the previous row's hash"
    if event_hash(event) != event.hash:
        return "row content does not match its hash"
    return ""


def _start_of(checkpoint: AuditCheckpoint | None) -> tuple[int, str, int]:
    """(first seq, the hash it links to, rows pruned before it): genesis, or a retention checkpoint."""
    if checkpoint is None:
        return 1, GENESIS_HASH, 0
    return checkpoint.seq, checkpoint.prev_hash, checkpoint.events_pruned


def chain_verify(*, chain_key: str) -> ChainVerification:
    """Recompute a chain from where it starts; name the first row whose hash or link does not hold.

    A chain starts at seq 1 after the genesis hash, or, once the retention job has pruned its oldest
    rows, at its latest `AuditCheckpoint` (row `seq` must link to `prev_hash`). Rows missing anywhere
    else, edited, or re-hashed break it, as before.
    """
    # The head first: the rows it counts are committed, so the rows read next include all of them;
    # rows appended meanwhile are past `head.length` and left for the next run.
    head = AuditChain.objects.filter(key=chain_key).first()
    latest = checkpoint_latest(chain_key=chain_key)
    expected_seq, expected_prev, pruned = _start_of(latest)
    events = AuditEvent.objects.filter(chain_key=chain_key)
    if head is not None:
        events = events.filter(seq__lte=head.length)
    checked = 0
    for event in events.order_by("seq").iterator(chunk_size=2000):
        checked += 1
        reason = ""
        if checked == 1 and event.seq != expected_seq:
            # A pruning run may have committed between reading the checkpoint and reading the rows: then
            # the rows start exactly at that newer checkpoint. Anything else is a gap at the head.
            newer = (AuditCheckpoint.objects.filter(chain_key=chain_key, seq=event.seq).first()
                     if event.seq > expected_seq else None)
            if newer is not None:
                expected_seq, expected_prev, pruned = _start_of(newer)
            elif event.seq < expected_seq:
                reason = f"row {event.seq} precedes the retention checkpoint at seq {expected_seq}"
        if checked == 1 and not reason and pruned != expected_seq - 1:
            reason = f"the retention checkpoint at seq {expected_seq} records {pruned} pruned rows"
        reason = reason or link_problem(event, expected_seq=expected_seq, expected_prev=expected_prev)
        if reason:
            return ChainVerification(chain=chain_key, ok=False, events_checked=checked,
                                     first_broken_id=str(event.id), reason=reason, events_pruned=pruned)
        expected_prev = event.hash
        expected_seq += 1

    if checked == 0 and head is not None and head.length >= expected_seq:
        # Every row pruned, possibly by a run that committed after the checkpoint was read.
        everything = AuditCheckpoint.objects.filter(chain_key=chain_key, seq=head.length + 1).first()
        if everything is not None:
            expected_seq, expected_prev, pruned = _start_of(everything)
    if head is not None and (head.length != expected_seq - 1 or head.head_hash != expected_prev):
        return ChainVerification(chain=chain_key, ok=False, events_checked=checked, events_pruned=pruned,
                                 reason=f"chain head records {head.length} events; the newest rows are missing")
    if pruned != expected_seq - 1 - checked:
        return ChainVerification(chain=chain_key, ok=False, events_checked=checked, events_pruned=pruned,
                                 reason=f"the retention checkpoint records {pruned} pruned rows")
    return ChainVerification(chain=chain_key, ok=True, events_checked=checked, events_pruned=pruned)


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
    if filters.since or filters.until:
        events = _within_time_window(events, chain_key=str(organization_id), since=filters.since, until=filters.until)
    return events.order_by("-seq")


def _within_time_window(events: QuerySet[AuditEvent], *, chain_key: str, since: Any,
                        until: Any) -> QuerySet[AuditEvent]:
    """Time bounds as a `seq` range too: a chain's occurred_at only grows with seq (rows are appended under the
    chain lock), so one index lookup per bound spares scanning every newer row (docs/benchmarks.md)."""
    chain = AuditEvent.objects.filter(chain_key=chain_key)
    if since:
        first = chain.filter(occurred_at__gte=since).order_by("occurred_at", "seq").values_list("seq", flat=True)[:1]
        events = events.filter(occurred_at__gte=since, seq__gte=models.Subquery(first))
    if until:
        last = chain.filter(occurred_at__lt=until).order_by("-occurred_at", "-seq").values_list("seq", flat=True)[:1]
        events = events.filter(occurred_at__lt=until, seq__lte=models.Subquery(last))
    return events


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
