"""Questions accounts must ask of higher apps (orgs, billing) without importing them.

A higher app registers a callable at start-up (its AppConfig.ready), the way allauth's login stages
work (ARCHITECTURE.md). With nothing registered, accounts answers on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.accounts.models import User

# (user) -> reasons the account may not be deleted now, e.g. "sole owner of organization Acme".
DeletionBlocker = Callable[["User"], list[str]]
# (viewer, user) -> True when viewer may see user's profile, e.g. they share an organization.
VisibilityRule = Callable[["User", "User"], bool]

_deletion_blockers: list[DeletionBlocker] = []
_visibility_rules: list[VisibilityRule] = []


def register_deletion_blocker(blocker: DeletionBlocker) -> DeletionBlocker:
    if blocker not in _deletion_blockers:
        _deletion_blockers.append(blocker)
    return blocker


def register_visibility_rule(rule: VisibilityRule) -> VisibilityRule:
    if rule not in _visibility_rules:
        _visibility_rules.append(rule)
    return rule


def deletion_blockers(user: User) -> list[str]:
    return [reason for blocker in _deletion_blockers for reason in blocker(user)]


def may_see_user(viewer: User, user: User) -> bool:
    if viewer.pk == user.pk or viewer.is_staff:
        return True
    return any(rule(viewer, user) for rule in _visibility_rules)
