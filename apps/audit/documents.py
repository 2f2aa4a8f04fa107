"""An audit event in the API's shape, as plain JSON data: one definition for every place that hands
events out (JSON Lines export, SIEM sinks, later the `audit.event` webhook). A test holds it equal to
`apps.audit.apis.AuditEventSerializer`, which the API itself uses."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from apps.audit.models import AuditEvent


def event_document(event: AuditEvent) -> dict[str, Any]:
    """Built directly rather than through the serializer: that cost 65 % of a JSONL export (docs/benchmarks.md)."""
    occurred_at = event.occurred_at.astimezone(UTC).isoformat()
    return {
        "id": str(event.id),
        "occurred_at": occurred_at[:-6] + "Z" if occurred_at.endswith("+00:00") else occurred_at,
        "action": event.action,
        "outcome": event.outcome,
        "actor": {"type": event.actor_type, "id": event.actor_id or None, "email": event.actor_email or None},
        "organization_id": str(event.organization_id) if event.organization_id else None,
        "target": {"type": event.target_type, "id": event.target_id} if event.target_type else None,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "changes": event.changes,
        "metadata": event.metadata,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
