"""Settings shared by every mode; values come from the environment.

With no environment at all this runs the embedded default (SQLite, local-memory cache, in-memory
channel layer, Celery tasks executed eagerly in-process). `DATABASE_URL` and `REDIS_URL` switch to
PostgreSQL and Redis. Every variable is documented in docs/configuration.md.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(str(BASE_DIR / ".env"))

# Runtime state of the embedded default (SQLite file, generated keys) lives here, never in git.
VAR_DIR = Path(env.str("PLINTO_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
PUBLIC_URL = env.str("PLINTO_PUBLIC_URL", default="http://localhost:8000")

# --- apps -------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular_sidecar",
    "drf_spectacular",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.microsoft",
    "apps.core",
    "apps.audit",
    "apps.accounts",
    "django_otp",
    "apps.mfa",
    "apps.orgs",
    "guardian",
    "apps.rbac",
    "apps.realtime",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.ApiProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestSizeLimitMiddleware",
    "apps.core.idempotency.IdempotencyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.SessionRevocationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.RateLimitHeadersMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "plinto.urls"
WSGI_APPLICATION = "plinto.wsgi.application"
ASGI_APPLICATION = "plinto.asgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.orgs.pages.active_organization",
            ],
        },
    },
]

# --- data -------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="plinto"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", default="plinto")},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
# No broker configured: run tasks in-process, so the embedded default needs no worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "orgs-invitations-expire": {"task": "apps.orgs.tasks.invitations_expire_task", "schedule": 3600},
    "orgs-purge-deleted": {"task": "apps.orgs.tasks.organizations_purge_task", "schedule": 6 * 3600},
    "audit-retention-prune": {"task": "apps.audit.tasks.audit_retention_prune_task", "schedule": 24 * 3600},
    "audit-verify-chains": {
        "task": "apps.audit.tasks.audit_chains_verify_task",
        "schedule": env.int("AUDIT_VERIFY_INTERVAL_SECONDS", default=6 * 3600),
    },
}

# --- auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# django-guardian stores object grants in apps.rbac's tables (each row also names its organization);
# no anonymous user row: grants are for members only (and guardian's default name is no e-mail).
GUARDIAN_USER_OBJ_PERMS_MODEL = "rbac.UserObjectGrant"
GUARDIAN_GROUP_OBJ_PERMS_MODEL = "rbac.TeamObjectGrant"
ANONYMOUS_USER_NAME = None
# guardian's object-permission backend is not installed on purpose: every access decision goes through
# apps.rbac (tenant check, roles, grants, policies); user.has_perm(perm, obj) must not answer around it.
SILENCED_SYSTEM_CHECKS = ["guardian.W001"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/accounts/security/"

# django-allauth: e-mail is the login, no username (see ../shared/DEPENDENCIES.md, trap 3).
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# `optional`: sign-in allowed before verification (email_verified false); `mandatory`: not.
ACCOUNT_EMAIL_VERIFICATION = env.str("PLINTO_EMAIL_VERIFICATION", default="optional")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 2  # verification links live 48 h
PASSWORD_RESET_TIMEOUT = 3600  # reset links live 1 h (and die with the password they reset)
MAGIC_LINK_TTL_SECONDS = 15 * 60
# Origins an API caller may send e-mailed links to (magic link redirect_url); empty = only Plinto's pages.
PLINTO_REDIRECT_ALLOWED_ORIGINS = env.list("PLINTO_REDIRECT_ALLOWED_ORIGINS", default=[])
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Plinto] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PUBLIC_URL.startswith("https") else "http"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never merge a social login into an account by e-mail alone
# Social providers are configured from the environment here, or as SocialApp rows in the admin.
SOCIALACCOUNT_PROVIDERS = {
    provider: {
        "APPS": [{"client_id": env.str(f"{prefix}_CLIENT_ID"), "secret": env.str(f"{prefix}_CLIENT_SECRET")}],
        "SCOPE": scope,
    }
    for provider, prefix, scope in [
        ("google", "GOOGLE", ["openid", "email", "profile"]),
        ("github", "GITHUB", ["read:user", "user:email"]),
        ("microsoft", "MICROSOFT", ["openid", "email", "profile", "User.Read"]),
    ]
    if env.str(f"{prefix}_CLIENT_ID", default="")
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Plinto <no-reply@plinto.localhost>")
# Outgoing mail: EMAIL_URL such as smtp+tls://user:password@smtp.example.com:587 (django-environ).
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds; a hung server fails fast and the task retries
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"  # e-mails rendered by us, sent by a Celery task
ACCOUNT_EMAIL_NOTIFICATIONS = True  # password changed, e-mail changed… notices
# New hashes: Argon2id with OWASP's parameters (19 MiB, t=2, p=1), read at every hash. The other hashers
# only verify hashes we inherited (legacy bcrypt, imports); they are re-hashed at the next sign-in.
PASSWORD_ARGON2 = {
    "memory_cost": env.int("PASSWORD_ARGON2_MEMORY_KIB", default=19456),
    "time_cost": env.int("PASSWORD_ARGON2_TIME_COST", default=2),
    "parallelism": env.int("PASSWORD_ARGON2_PARALLELISM", default=1),
}
PASSWORD_HASHERS = [
    "apps.accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "apps.accounts.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "apps.accounts.hashers.ImportedPBKDF2PasswordHasher",
    "apps.accounts.hashers.FirebaseScryptPasswordHasher",
]
# 8 to 128 characters, any Unicode, never truncated; no composition rules (ASVS 2.1).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "apps.accounts.hashers.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Largest request body accepted anywhere; larger ones answer 413 problem+json on the API.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("PLINTO_MAX_REQUEST_BYTES", default=1024 * 1024)

# Secrets at rest (apps.core.crypto): Fernet keys, newest first. Without it the embedded default
# generates a key file under VAR_DIR; production refuses to start.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- i18n, static -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.JWTAuthentication",
        "apps.rbac.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.ratelimit.ApiRateThrottle"],
    "EXCEPTION_HANDLER": "apps.core.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.PlintoAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Plinto API",
    "DESCRIPTION": "Identity and SaaS backend. Errors are RFC 9457 application/problem+json.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc assets come from drf-spectacular-sidecar: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# `type` of every problem document is this base + the error's slug.
PROBLEM_TYPE_BASE = env.str("PLINTO_PROBLEM_TYPE_BASE", default="https://plinto.dev/problems/")

# Named rate limits, `RATELIMIT_<NAME>=<count>/<period>` (apps.core.ratelimit); defaults here.
RATELIMIT_ENABLED = env.bool("RATELIMIT_ENABLED", default=True)
RATELIMIT_DEFAULTS = {
    "API": "600/1m",  # every API call, per user (or per IP when anonymous)
    "SIGNIN": "10/5m",  # per e-mail + IP
    "SIGNUP": "5/1h",  # per IP
    "PASSWORD_RESET": "3/1h",  # per e-mail
    "MAGIC_LINK": "3/15m",  # per e-mail
    "VERIFICATION_RESEND": "3/1h",  # per user
    "REFRESH": "60/1m",  # per IP
    "REAUTHENTICATE": "10/5m",  # per session
    "MFA_VERIFY": "10/5m",  # per MFA challenge or user
    "SMS_SEND": "5/1h",  # per user and per phone number
}
RATELIMITS = {name: env.str(f"RATELIMIT_{name}", default=rate) for name, rate in RATELIMIT_DEFAULTS.items()}

# --- logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console")  # "json" in production
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "apps.core.logging.json_formatter"},
        "console": {"()": "apps.core.logging.console_formatter"},
    },
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["default"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
    },
}

# Number of reverse proxies in front of Plinto whose X-Forwarded-For entries are trusted.
TRUSTED_PROXY_COUNT = env.int("PLINTO_TRUSTED_PROXY_COUNT", default=0)
RATELIMIT_KEY_PREFIX = env.str("RATELIMIT_KEY_PREFIX", default="plinto-limits")

# --- tokens and sessions (apps.accounts; docs/authentication.md) ------------------------------
JWT_ISSUER = env.str("PLINTO_JWT_ISSUER", default=PUBLIC_URL)
JWT_AUDIENCE = env.str("PLINTO_JWT_AUDIENCE", default="plinto")
ACCESS_TOKEN_TTL_SECONDS = env.int("PLINTO_ACCESS_TOKEN_TTL_SECONDS", default=15 * 60)
REFRESH_TOKEN_INACTIVITY_SECONDS = env.int("PLINTO_REFRESH_TOKEN_INACTIVITY_SECONDS", default=7 * 24 * 3600)
SESSION_ABSOLUTE_TTL_SECONDS = env.int("PLINTO_SESSION_ABSOLUTE_TTL_SECONDS", default=30 * 24 * 3600)
# Replay of the immediately previous refresh token, once, within this many seconds (0-60).
REFRESH_REUSE_GRACE_SECONDS = min(60, max(0, env.int("PLINTO_REFRESH_REUSE_GRACE_SECONDS", default=0)))
REAUTHENTICATION_WINDOW_SECONDS = env.int("PLINTO_REAUTHENTICATION_WINDOW_SECONDS", default=10 * 60)
# Session last activity is written at most this often.
SESSION_ACTIVITY_RESOLUTION_SECONDS = 60
# Lockout: this many failed sign-ins for one e-mail within the window lock it for LOCKOUT_SECONDS.
LOCKOUT_THRESHOLD = env.int("PLINTO_LOCKOUT_THRESHOLD", default=10)
LOCKOUT_WINDOW_SECONDS = env.int("PLINTO_LOCKOUT_WINDOW_SECONDS", default=15 * 60)
LOCKOUT_SECONDS = env.int("PLINTO_LOCKOUT_SECONDS", default=15 * 60)

# --- multi-factor authentication (apps.mfa; docs/mfa.md) ----------------------------------------
MFA_CHALLENGE_TTL_SECONDS = 5 * 60  # life of an mfa_token
MFA_CHALLENGE_MAX_FAILURES = 5  # wrong codes that void an mfa_token
MFA_CODE_TTL_SECONDS = 10 * 60  # SMS and e-mail codes
MFA_REMEMBER_DEVICE_DAYS = env.int("PLINTO_MFA_REMEMBER_DEVICE_DAYS", default=30)
MFA_THROTTLE_FACTOR = 1  # django-otp back-off between failed codes on one factor: 1, 2, 4… seconds
MFA_TOTP_ISSUER = env.str("PLINTO_MFA_TOTP_ISSUER", default="Plinto")
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default="localhost")
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default="Plinto")
WEBAUTHN_ORIGIN = env.list("WEBAUTHN_ORIGIN", default=["http://localhost:8000"])
# SMS: "console" (logs the message; development) or "twilio" (needs the three TWILIO_* variables).
SMS_PROVIDER = env.str("PLINTO_SMS_PROVIDER", default="console")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")  # a phone number or a Messaging Service SID (MG…)

# --- organizations (apps.orgs; docs/organizations.md) -----------------------------------------------
ORG_DELETE_GRACE_DAYS = env.int("PLINTO_ORG_DELETE_GRACE_DAYS", default=30)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT  # allauth's page rate limits see the same client address
AUDIT_PLATFORM_RETENTION_DAYS = env.int("PLINTO_AUDIT_PLATFORM_RETENTION_DAYS", default=365)
AUDIT_PLATFORM_SINK = env.str("PLINTO_AUDIT_PLATFORM_SINK", default="")  # "", "stdout" or "syslog"
# "" = /dev/log when present, else localhost:514; or a path, or host:port
AUDIT_SYSLOG_ADDRESS = env.str("PLINTO_AUDIT_SYSLOG_ADDRESS", default="")
AUDIT_SYSLOG_FACILITY = env.str("PLINTO_AUDIT_SYSLOG_FACILITY", default="auth")
