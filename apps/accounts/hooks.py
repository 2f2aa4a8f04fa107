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

# (user, amr, method, remember_token) -> the API's MFA challenge answer when a second factor is due, else None.
SecondFactorGate = Callable[["User", list[str], str, "str | None"], "dict[str, object] | None"]
# (user, method, code) -> True when the code proves one of the user's factors (re-authentication).
FactorVerifier = Callable[["User", str, str], bool]

_deletion_blockers: list[DeletionBlocker] = []
_visibility_rules: list[VisibilityRule] = []
# (user) -> True when the user has a second factor (shown as `mfa_enabled` on the user object).
MfaStatus = Callable[["User"], bool]

_second_factor_gates: list[SecondFactorGate] = []
_factor_verifiers: list[FactorVerifier] = []
_mfa_status: list[MfaStatus] = []


def register_mfa_status(status: MfaStatus) -> MfaStatus:
    if status not in _mfa_status:
        _mfa_status.append(status)
    return status


def mfa_enabled(user: User) -> bool:
    return any(status(user) for status in _mfa_status)


def register_second_factor_gate(gate: SecondFactorGate) -> SecondFactorGate:
    if gate not in _second_factor_gates:
        _second_factor_gates.append(gate)
    return gate


def register_factor_verifier(verifier: FactorVerifier) -> FactorVerifier:
    if verifier not in _factor_verifiers:
        _factor_verifiers.append(verifier)
    return verifier


def second_factor_challenge(user: User, amr: list[str], method: str,
                            remember_token: str | None = None) -> dict[str, object] | None:
    for gate in _second_factor_gates:
        answer = gate(user, amr, method, remember_token)
        if answer is not None:
            return answer
    return None


def factor_verifies(user: User, method: str, code: str) -> bool:
    return any(verifier(user, method, code) for verifier in _factor_verifiers)


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
