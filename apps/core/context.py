"""Who and where the current request comes from, readable anywhere below the middleware.

A contextvar, so it follows the request into sync_to_async threads and is empty in tasks and shells.
"""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("plinto_request_context", default=None)


def current_context() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    ctx = _current.get()
    return ctx.request_id if ctx else None


def bind_context(ctx: RequestContext | None):  # -> Token
    return _current.set(ctx)


def unbind_context(token) -> None:
    _current.reset(token)
