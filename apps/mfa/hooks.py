"""Fills the hooks accounts exposes (ARCHITECTURE.md: lower apps ask, higher apps answer), and
revokes remembered devices when a password is reset (through the event stream, on commit)."""

from apps.accounts import hooks as account_hooks
from apps.audit import subscribers


def _second_factor_gate(user, amr, method, remember_token):  # noqa: ANN001, ANN202
    from apps.mfa.services.challenge import challenge_start

    started = challenge_start(user=user, amr=amr, method=method, remember_token=remember_token)
    return started.as_response() if started is not None else None


def _factor_verifier(user, method, code):  # noqa: ANN001, ANN202
    from apps.mfa.errors import InvalidMfaCode, MethodNotEnrolled
    from apps.mfa.services.factors import factor_verify_code

    try:
        factor_verify_code(user=user, method=method, code=code)
    except (InvalidMfaCode, MethodNotEnrolled):
        return False
    return True


def _on_event(event) -> None:  # noqa: ANN001
    if event.action in ("user.password_reset", "mfa.reset") and event.target_type == "user":
        from apps.mfa.services.challenge import remembered_devices_revoke

        remembered_devices_revoke(user_id=event.target_id)


def _mfa_status(user):  # noqa: ANN001, ANN202
    from apps.mfa.services.factors import mfa_enabled

    return mfa_enabled(user)


account_hooks.register_second_factor_gate(_second_factor_gate)
account_hooks.register_mfa_status(_mfa_status)
account_hooks.register_factor_verifier(_factor_verifier)
subscribers.subscribe(_on_event)
