"""The test suite runs against real PostgreSQL and Redis (the machine's local services by default)."""

from cryptography.fernet import Fernet

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-" + "x" * 50  # noqa: S105 - test settings only
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/plinto"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["TEST"] = {"NAME": env.str("PLINTO_TEST_DB_NAME", default="test_plinto")}
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        # Tests clear only their own keys (delete_pattern under this prefix), never the whole DB.
        "KEY_PREFIX": "plinto-test",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "plinto-test"},
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = True  # a test that needs the real broker starts a worker itself
CELERY_TASK_DEFAULT_QUEUE = "plinto-test"
FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # serve from the finders; no collectstatic before tests
WHITENOISE_USE_FINDERS = True
SMS_PROVIDER = "locmem"  # apps.mfa.backends keeps sent messages in an outbox, like locmem e-mail
