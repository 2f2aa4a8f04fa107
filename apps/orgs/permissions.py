"""An organization's own rules for its members' requests: ip_allowlist, mfa_required, session_max_age.

apps.rbac.access applies them after the membership check and before the permission decision."""

from __future__ import annotations

import ipaddress

from django.utils import timezone
from rest_framework.request import Request

from apps.accounts import hooks as account_hooks
from apps.accounts.errors import ReauthenticationRequired
from apps.core.http import client_ip
from apps.orgs.errors import IpNotAllowed, MfaEnrollmentRequired
from apps.orgs.models import Membership, Organization


def org_network_enforce(request: Request, organization: Organization) -> None:
    """The organization's ip_allowlist, for members and API keys alike."""
    if organization.ip_allowlist:
        ip = client_ip(request)
        address = ipaddress.ip_address(ip) if ip else None
        if address is None or not any(address in ipaddress.ip_network(c) for c in organization.ip_allowlist):
            raise IpNotAllowed("This organization only accepts calls from its allowed networks.")


def org_rules_enforce(request: Request, membership: Membership) -> None:
    organization = membership.organization
    org_network_enforce(request, organization)
    if organization.mfa_required and not account_hooks.mfa_enabled(request.user):
        raise MfaEnrollmentRequired("This organization requires a second factor: enrol one at /api/v1/mfa.")
    if organization.session_max_age:
        auth_time = _session_auth_time(request)
        if auth_time is None or (timezone.now() - auth_time).total_seconds() > organization.session_max_age:
            raise ReauthenticationRequired(
                f"This organization needs a sign-in within the last {organization.session_max_age} seconds: "
                "sign in again or re-authenticate (POST /api/v1/auth/reauthenticate).")


def _session_auth_time(request: Request):  # noqa: ANN202
    """When the caller last proved who they are: the token's session, or the browser's session row."""
    from apps.accounts.models import UserSession
    from apps.accounts.services.browser import SESSION_KEY
    from apps.accounts.services.tokens import AccessClaims

    if isinstance(getattr(request, "auth", None), AccessClaims):  # DRF request with an access token
        session_id = request.auth.session_id
    else:
        django_request = getattr(request, "_request", request)
        session_id = django_request.session.get(SESSION_KEY) if hasattr(django_request, "session") else None
    if not session_id:
        return None
    return UserSession.objects.filter(pk=session_id).values_list("auth_time", flat=True).first()
