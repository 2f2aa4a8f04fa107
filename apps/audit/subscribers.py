"""On-commit subscribers of the event stream. Webhooks and realtime plug in here (no Django signals).

A subscriber is called once per committed event, after the transaction that wrote it has committed,
and only then; one that fails is logged and does not stop the others or touch the event.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.audit.models import AuditEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[["AuditEvent"], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register `subscriber` (usable as a decorator); registering twice is a no-op."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def dispatch(event: "AuditEvent") -> None:
    for subscriber in list(_subscribers):
        try:
            subscriber(event)
        except Exception:  # noqa: BLE001 - one broken subscriber must not silence the others
            logger.exception("audit subscriber %r failed for event %s (%s)", subscriber, event.id, event.action)
