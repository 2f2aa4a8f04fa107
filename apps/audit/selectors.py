"""Reading the event stream: chain verification (listing and search come with the audit API)."""

from __future__ import annotations

from dataclasses import dataclass

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
