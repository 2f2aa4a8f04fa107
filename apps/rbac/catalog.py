"""The one catalog of permission codes (`resource:action`), served at GET /api/v1/rbac/permissions.

Each app declares its codes in its own `perms.py` as `PERMISSIONS = {code: description}`; apps below
rbac (orgs, audit) can do so without importing it. Roles, API key scopes, grants and policies accept
only codes from here (policies also accept patterns with `*`).
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

CODE = re.compile(r"^[a-z][a-z_]*:[a-z][a-z_]*$")


@dataclass(frozen=True)
class Permission:
    code: str
    description: str
    app: str

    @property
    def resource(self) -> str:
        return self.code.split(":", 1)[0]


_catalog: dict[str, Permission] = {}


def declare(code: str, description: str, *, app: str) -> None:
    if not CODE.match(code):
        raise ImproperlyConfigured(f"Permission {code!r} is not 'resource:action'.")
    existing = _catalog.get(code)
    if existing is not None and existing.app != app:
        raise ImproperlyConfigured(f"Permission {code!r} is declared by {existing.app} and {app}.")
    _catalog[code] = Permission(code=code, description=description, app=app)


def autodiscover() -> None:
    """Collect `PERMISSIONS` from every installed app's `perms.py`."""
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.perms")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.perms":
                raise
            continue
        for code, description in getattr(module, "PERMISSIONS", {}).items():
            declare(code, description, app=config.label)


def all_permissions() -> list[Permission]:
    return sorted(_catalog.values(), key=lambda p: p.code)


def codes() -> frozenset[str]:
    return frozenset(_catalog)


def exists(code: str) -> bool:
    return code in _catalog


def unknown(candidates: list[str]) -> list[str]:
    return [c for c in candidates if c not in _catalog]


def matching(pattern: str) -> list[str]:
    """Codes a policy action pattern covers (`*`, `members:*`, `*:read`)."""
    return [code for code in _catalog if fnmatch.fnmatchcase(code, pattern)]
