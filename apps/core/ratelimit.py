"""Named rate limits on the `limits` library (moving window, Redis when configured).

Each limit has a name and a rate `<count>/<period>` (period `30s`, `5m`, `1h`, `1d`; a bare unit
means one), set from the environment as `RATELIMIT_<NAME>` with defaults in settings.RATELIMIT_DEFAULTS.
`RATELIMIT_ENABLED=0` turns every limit off (load tests).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.core.errors import RateLimited
from apps.core.http import client_ip

if TYPE_CHECKING:  # importing DRF's views here would be circular: APIView reads this module's throttle
    from rest_framework.views import APIView

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_UNITS: dict[str, type[RateLimitItem]] = {
    "s": RateLimitItemPerSecond,
    "m": RateLimitItemPerMinute,
    "h": RateLimitItemPerHour,
    "d": RateLimitItemPerDay,
}


def parse_rate(rate: str) -> RateLimitItem:
    match = _RATE.match(rate)
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"Rate {rate!r} is not '<count>/<period>' such as '10/5m'.")
    count, multiples, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    return _UNITS[unit](count, multiples)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when a slot frees up

    @property
    def reset_header(self) -> str:
        return str(math.ceil(self.reset_at))

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))


@lru_cache(maxsize=4)
def _storage(uri: str, prefix: str) -> Storage:
    return storage_from_string(uri, key_prefix=prefix) if uri.startswith("redis") else storage_from_string(uri)


def storage() -> Storage:
    """Redis when REDIS_URL is set (shared by every process), process memory otherwise."""
    return _storage(settings.REDIS_URL or "memory://", settings.RATELIMIT_KEY_PREFIX)


def rate_for(name: str) -> RateLimitItem:
    try:
        return parse_rate(settings.RATELIMITS[name])
    except KeyError:
        raise ImproperlyConfigured(f"Unknown rate limit {name!r}; add it to RATELIMIT_DEFAULTS.") from None


def hit(name: str, *keys: str) -> Decision:
    """Count one attempt against limit `name` for `keys`; say whether it is allowed."""
    item = rate_for(name)
    if not settings.RATELIMIT_ENABLED:
        return Decision(allowed=True, limit=item.amount, remaining=item.amount, reset_at=time.time())
    limiter = MovingWindowRateLimiter(storage())
    allowed = limiter.hit(item, name, *keys)
    stats = limiter.get_window_stats(item, name, *keys)
    return Decision(allowed=allowed, limit=item.amount, remaining=stats.remaining,
                    reset_at=stats.reset_time)


def enforce(request: Request, name: str, *keys: str) -> Decision:
    """Hit limit `name`; raise RateLimited (429 + Retry-After) when exhausted. Headers follow via middleware."""
    decision = hit(name, *keys)
    request._request.ratelimit = decision  # read by RateLimitHeadersMiddleware
    if not decision.allowed:
        raise RateLimited(retry_after=decision.retry_after)
    return decision


class ApiRateThrottle(BaseThrottle):
    """Global per-client API limit (`RATELIMIT_API`): per user when signed in, else per IP."""

    limit_name = "API"

    def allow_request(self, request: Request, view: APIView) -> bool:
        user = getattr(request, "user", None)
        api_key = getattr(user, "api_key", None)  # an API key's principal (apps.rbac.authentication) has no pk
        if api_key is not None:
            key = f"apikey:{api_key.pk}"
        else:
            key = f"user:{user.pk}" if user is not None and user.is_authenticated else f"ip:{client_ip(request)}"
        enforce(request, self.limit_name, key)
        return True
