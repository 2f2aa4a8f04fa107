"""The one catalog of event types. Every app declares its events in its own `events.py`.

`emit()` refuses a name that is not declared here, and metadata keys that the type does not list,
so the catalog (served at GET /api/v1/audit/event-types) is always the truth about what is emitted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

_NAME = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")  # <noun>.<past verb>


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    fields: tuple[str, ...] = ()  # keys allowed in the event's metadata
    subscribable: bool = False  # customers may subscribe to it with webhooks
    realtime: bool = False  # pushed to connected clients of the organization


class UnknownEventType(LookupError):
    pass


_catalog: dict[str, EventType] = {}


def declare(*types: EventType) -> None:
    for event_type in types:
        if not _NAME.match(event_type.name):
            raise ImproperlyConfigured(f"Event type {event_type.name!r} is not '<noun>.<past_verb>'.")
        existing = _catalog.get(event_type.name)
        if existing is not None and existing != event_type:
            raise ImproperlyConfigured(f"Event type {event_type.name!r} is declared twice, differently.")
        _catalog[event_type.name] = event_type


def event_type_get(name: str) -> EventType:
    try:
        return _catalog[name]
    except KeyError:
        raise UnknownEventType(f"{name!r} is not in the event catalog; declare it in the app's events.py.") from None


def event_type_list() -> list[EventType]:
    return sorted(_catalog.values(), key=lambda t: t.name)
