"""Access checks for views: `org_access()` and the DRF permission class `HasPermission`.

Both resolve the caller inside the organization (404 for strangers), apply the organization's own
rules (IP allow-list, MFA requirement, session age: apps.orgs.permissions), then ask the decision
service (apps.rbac.services.decisions) and answer 403 `permission_denied` naming the permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.core.errors import PermissionDenied
from apps.core.http import client_ip
from apps.orgs.errors import OrganizationNotFound
from apps.orgs.models import Membership, Organization
from apps.orgs.permissions import org_network_enforce, org_rules_enforce
from apps.orgs.selectors import membership_get
from apps.rbac.models import ApiKey
from apps.rbac.services.decisions import (
    Caller,
    Decision,
    RequestFacts,
    Resource,
    api_key_caller,
    decide,
    user_caller,
)

SECOND_FACTORS = frozenset({"otp", "hwk", "swk", "sms", "mfa"})


@dataclass(frozen=True)
class KeyMembership:
    """What org_access() hands a view when an API key calls: the organization, no human member."""

    organization: Organization
    api_key: ApiKey
    user: None = None
    user_id: None = None
    role: None = None
    pk: None = None

    @property
    def organization_id(self) -> Any:
        return self.organization.pk


def request_api_key(request: Any) -> ApiKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def request_facts(request: Any, *, context: dict | None = None) -> RequestFacts:
    from apps.accounts.services.tokens import AccessClaims

    auth = getattr(request, "auth", None)
    mfa_age = -1
    if isinstance(auth, AccessClaims) and SECOND_FACTORS.intersection(auth.amr):
        mfa_age = max(0, int(timezone.now().timestamp()) - int(auth.auth_time))
    return RequestFacts(ip=client_ip(request), time=timezone.now(), mfa_age=mfa_age,
                        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512], context=dict(context or {}))


def caller_for(request: Any, organization_id: object) -> tuple[Caller, Membership | KeyMembership]:
    """The caller inside the organization: 404 for strangers, then the organization's own rules."""
    key = request_api_key(request)
    if key is not None:
        if str(key.organization_id) != str(organization_id):
            raise OrganizationNotFound("No such organization.")
        organization = Organization.objects.alive().filter(pk=key.organization_id).first()
        if organization is None:
            raise OrganizationNotFound("No such organization.")
        org_network_enforce(request, organization)
        return api_key_caller(key=key, organization=organization), KeyMembership(organization=organization,
                                                                                  api_key=key)
    membership = membership_get(organization_id=organization_id, user=request.user)
    org_rules_enforce(request, membership)
    return user_caller(user=request.user, organization=membership.organization), membership


def check(request: Any, organization_id: object, permission: str, resource: Resource | None = None
          ) -> tuple[Decision, Membership | KeyMembership]:
    caller, membership = caller_for(request, organization_id)
    return decide(caller=caller, permission=permission, resource=resource, facts=request_facts(request)), membership


def org_access(request: Request, organization_id: object, permission: str | None = None,
               resource: Resource | None = None) -> Membership | KeyMembership:
    """The caller's membership (or the key's stand-in) if `permission` is allowed; 404 / 403 otherwise."""
    if permission is None:
        if request_api_key(request) is not None:  # a key must always name what it does
            raise PermissionDenied("API keys act only within their scopes.")
        return caller_for(request, organization_id)[1]
    decision, membership = check(request, organization_id, permission, resource)
    if not decision.allowed:
        raise PermissionDenied(denial_detail(decision, membership), extra={"permission": permission})
    return membership


def denial_detail(decision: Decision, membership: Membership | KeyMembership) -> str:
    """The 403's detail: names the permission, and the policy when one denied."""
    if decision.denied_by_policy:
        return f"The permission {decision.permission} is {decision.reason}."
    if isinstance(membership, KeyMembership):
        return f"This API key's scopes lack the permission {decision.permission}."
    return f"Your role ({membership.role.name}) lacks the permission {decision.permission}."


class HasPermission(BasePermission):
    """`permission_classes = [HasPermission("members:invite")]`.

    The organization comes from the view's `org_id` URL argument, or from `view.organization_id_for(request,
    **kwargs)` for routes keyed by a child object (teams, invitations). The membership is left on
    `request.membership` for the view.
    """

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __call__(self) -> HasPermission:  # DRF instantiates each entry of permission_classes
        return self

    def has_permission(self, request: Request, view: Any) -> bool:
        resolve = getattr(view, "organization_id_for", None)
        organization_id = resolve(request, **view.kwargs) if resolve else view.kwargs.get("org_id")
        request.membership = org_access(request, organization_id, self.permission)
        return True
