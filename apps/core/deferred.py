"""Work that must outlive the request's transaction.

With ATOMIC_REQUESTS an error answer rolls back everything the request wrote, also inside a savepoint. Some
writes must survive it: the audit record of a refused API key, of a policy condition that failed. They are
handed to `after_request()`, which runs them in their own transaction once the response is finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core.signals import request_finished
from django.db import transaction

from apps.core.context import RequestContext, bind_context, current_context, unbind_context

logger = logging.getLogger(__name__)

_pending: ContextVar[tuple[tuple[Callable[[], Any], RequestContext | None], ...]] = ContextVar(
    "plinto_after_request", default=())


def after_request(fn: Callable[[], Any]) -> None:
    """Run `fn` in its own transaction: now if no transaction is open, else once the response is finished
    (request_finished), after the request's transaction committed or rolled back. The request context
    (ip, request id) is kept for the audit event."""
    if not transaction.get_connection().in_atomic_block:
        fn()
        return
    _pending.set((*_pending.get(), (fn, current_context())))


def _run_pending(**kwargs: Any) -> None:
    pending = _pending.get()
    if not pending:
        return
    _pending.set(())
    for fn, ctx in pending:
        token = bind_context(ctx)
        try:
            fn()
        except Exception:  # noqa: BLE001 - bookkeeping after the answer; never fail the response over it
            logger.exception("work deferred until after the request failed")
        finally:
            unbind_context(token)


request_finished.connect(_run_pending, dispatch_uid="apps.core.deferred.after_request")
