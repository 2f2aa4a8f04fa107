"""The canonical serialization an audit row's hash covers. Changing it breaks every stored chain."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def to_json_value(value: Any) -> Any:
    """Make `value` plain JSON the way PostgreSQL's jsonb will hand it back, so hashes reproduce.

    Integral floats become ints (jsonb prints 1e20 as an integer); dates, UUIDs and decimals become
    strings through Django's encoder.
    """
    plain = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return _integral_floats_to_int(plain)


def _integral_floats_to_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_to_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_to_int(v) for v in value]
    return value


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: Any) -> str:
    """SHA-256 over every field of the row except `hash` itself, in a fixed canonical form."""
    document = {
        "id": str(event.id),
        "chain_key": event.chain_key,
        "seq": event.seq,
        "occurred_at": _timestamp(event.occurred_at),
        "action": event.action,
        "outcome": event.outcome,
        "actor": [event.actor_type, event.actor_id, event.actor_email],
        "organization_id": str(event.organization_id) if event.organization_id else None,
        "target": [event.target_type, event.target_id],
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "changes": event.changes,
        "metadata": event.metadata,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
