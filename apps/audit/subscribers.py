"""Subscribers of the event stream. Webhooks and realtime plug in here (no Django signals).

A subscriber is called once per committed event, after the transaction that wrote it has committed,
and only then; one that fails is logged and does not stop the others or touch the event.

An in-transaction listener is called by `emit()` itself, inside the caller's transaction, right after
the event row is written. It is for bookkeeping that must not wait for the commit (apps.rbac bumps
its cache version there, and again on commit); if it raises, the caller's change fails with it.
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


InTransactionListener = Callable[["AuditEvent"], None]
_in_transaction: list[InTransactionListener] = []


def listen_in_transaction(listener: InTransactionListener) -> InTransactionListener:
    """Register `listener` for every emitted event, run inside the emitting transaction."""
    if listener not in _in_transaction:
        _in_transaction.append(listener)
    return listener


def notify_in_transaction(event: "AuditEvent") -> None:
    for listener in list(_in_transaction):
        listener(event)
