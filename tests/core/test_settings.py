"""Production settings refuse to boot without their secrets; with them they pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "plinto.settings.production",
    "DJANGO_SECRET_KEY": "k" * 20 + "Zq8-Xv3_Lm9Pw2Rt7Yb4Nc6Hd1Jf5Gs0Ua",
    "DJANGO_ALLOWED_HOSTS": "id.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/plinto",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    command = [sys.executable, "manage.py", *args]  # our own interpreter and manage.py
    return subprocess.run(command, cwd=ROOT, env={**clean, **env},  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL",
                                     "FIELD_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_with_its_secrets_passes_check_deploy_without_warnings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
