"""Shared fixtures. The suite runs against real PostgreSQL and Redis and refuses to start without them."""

import pytest
import redis
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail loudly, naming the service, instead of erroring in every test or silently skipping."""
    missing = []
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        missing.append(f"PostgreSQL (DATABASE_URL points at {db['ENGINE']}; the suite needs PostgreSQL)")
    else:
        try:
            import psycopg

            psycopg.connect(host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"] or None,
                            password=db["PASSWORD"] or None, dbname="postgres", connect_timeout=3).close()
        except psycopg.Error as exc:
            missing.append(f"PostgreSQL at {db['HOST']}:{db['PORT']} ({type(exc).__name__})")
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        missing.append(f"Redis at {settings.REDIS_URL.rsplit('@', 1)[-1]} ({type(exc).__name__})")
    if missing:
        pytest.exit("Required services are unreachable: " + "; ".join(missing)
                    + ". Start them (see docs/development.md) or set DATABASE_URL / REDIS_URL.", returncode=3)


@pytest.fixture(autouse=True)
def _clean_cache_and_limits() -> None:
    """Each test starts with an empty cache and fresh rate-limit counters (only our prefixes)."""
    from django.core.cache import cache

    from apps.accounts.services.tokens import signing_key_cache_clear
    from apps.core.ratelimit import storage
    from apps.rbac import cache as access_cache

    cache.delete_pattern("*")
    access_cache.local.clear()  # in-process access snapshots of the previous test's (rolled back) rows
    storage().reset()
    signing_key_cache_clear()  # each test's rolled-back database has its own signing keys


@pytest.fixture(autouse=True)
def _empty_sms_outbox() -> None:
    from apps.mfa import backends

    backends.outbox.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):  # noqa: ANN001, ANN201
    return UserFactory()


@pytest.fixture
def user_client(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):  # noqa: ANN001, ANN201
    """A platform operator: staff with every admin permission."""
    return UserFactory(email="ops@example.com", staff=True)


@pytest.fixture
def admin_client(operator) -> Client:  # noqa: ANN001
    """The Django test client signed in to the admin as `operator` (replaces pytest-django's)."""
    client = Client()
    client.force_login(operator)
    return client
