"""`make run`: the embedded default for a first look and for development.

Secrets that production must receive from the environment are generated once into VAR_DIR here, so
that no key ever sits in the repository.
"""

import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from .base import *  # noqa: F403
from .base import VAR_DIR, env


def _generated_secret(path: Path, make: "callable[[], str]") -> str:
    """Read a secret from `path`, creating it (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make() + "\n")
    return path.read_text().strip()


DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _generated_secret(
    VAR_DIR / "secret-key", lambda: secrets.token_urlsafe(50)
)
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    _generated_secret(VAR_DIR / "field-encryption.keys", lambda: Fernet.generate_key().decode())
]
if not env.str("EMAIL_URL", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # e-mails appear in the terminal
