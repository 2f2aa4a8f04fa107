"""Access checks for views: `org_access()` and the DRF permission class `HasPermission`.

Both resolve the caller inside the organization (404 for strangers), apply the organization's own
rules (IP allow-list, MFA requirement, session age: apps.orgs.permissions), then ask the decision
service (apps.rbac.services.decisions) and answer 403 `permission_denied` naming the permission.
API views declare theirs with `HasPermission` (one requirement per method); lists whose objects carry
grants are narrowed with `visible()`. Pages call `org_access()` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
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


# --- Declarative access for DRF views --------------------------------------------------------------


class _AnyMember:
    """Membership only: `org_access(request, org_id, None)`: every active member may, an API key may not."""

    def __repr__(self) -> str:
        return "ANY_MEMBER"


ANY_MEMBER = _AnyMember()


class _NoOrganization:
    def __repr__(self) -> str:
        return "NO_ORGANIZATION"


# What `resolve_organization` returns for an object of no organization (a system role): nothing to check.
NO_ORGANIZATION = _NoOrganization()


@dataclass(frozen=True)
class ListPermission:
    """A list's permission: held organization-wide, the list shows every object; otherwise a member who holds it
    on some objects of `resource_type` through object grants is let through and `visible()` shows those only.
    Neither: 403 as for a plain permission."""

    permission: str
    resource_type: str


@dataclass(frozen=True)
class ByAction:
    """A permission chosen by the request body's `field` before the body is validated (a malformed body falls
    back to `default`, then fails validation): `ByAction({"remove": "members:remove"}, default="members:manage")`.
    """

    choices: dict[str, str]
    default: str
    field: str = "action"

    def permission_for(self, request: Request) -> str:
        data = request.data
        value = data.get(self.field) if isinstance(data, dict) else None
        return self.choices.get(value, self.default) if isinstance(value, str) else self.default


Requirement = str | ListPermission | ByAction | _AnyMember
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class HasPermission(BasePermission):
    """`permission_classes = [IsAuthenticated, HasPermission(GET="teams:read", POST="teams:manage")]`, or
    `HasPermission("x")` for every method of the view.

    A requirement is a permission code, `ANY_MEMBER` (membership only; API keys refused), `ListPermission` (a list
    filtered by object grants, see `visible`) or `ByAction` (chosen by the body). A method the view has but does
    not list is not checked here: the handler must check it. HEAD is checked as GET; OPTIONS is not checked.

    The organization is the `org_id` URL argument, or `view.resolve_organization(request, **kwargs)` →
    `(organization_id, resource or None)` for routes keyed by a child object: the resolver loads the object
    (404 when it is not the caller's to see), keeps it on `view.object` and names it as the decision's resource
    when grants on it count. It may return `NO_ORGANIZATION` for an object outside every organization. The
    organization's 404 / 403 can be reworded by `view.access_error(exc)` (e.g. "No such invitation."), which
    returns the exception to raise instead, or None to keep `exc`.

    The caller's membership (or an API key's KeyMembership) is left on `request.membership` for the handler.
    DRF asks permission classes before throttles; the view's throttles run here first, so that refused
    requests count against the rate limit as they did when the handler checked access.
    """

    def __init__(self, every: Requirement | None = None, /, **methods: Requirement) -> None:
        if (every is None) == (not methods):
            raise TypeError("HasPermission takes one requirement for every method, or one per method.")
        unknown = {m.upper() for m in methods} - METHODS
        if unknown:
            raise TypeError(f"HasPermission: unknown methods {sorted(unknown)}.")
        self.every = every
        self.methods: dict[str, Requirement] = {m.upper(): r for m, r in methods.items()}

    def __call__(self) -> HasPermission:  # DRF instantiates each entry of permission_classes
        return self

    def __repr__(self) -> str:
        if self.every is not None:
            return f"HasPermission({self.every!r})"
        return "HasPermission(" + ", ".join(f"{m}={r!r}" for m, r in self.methods.items()) + ")"

    def requirement(self, method: str) -> Requirement | None:
        method = "GET" if method.upper() == "HEAD" else method.upper()
        if method not in METHODS:
            return None
        return self.every if self.every is not None else self.methods.get(method)

    def permissions(self) -> set[str]:
        """Every permission code this declares (for tests: each must be in the catalog)."""
        codes: set[str] = set()
        for requirement in [self.every, *self.methods.values()]:
            if isinstance(requirement, str):
                codes.add(requirement)
            elif isinstance(requirement, ListPermission):
                codes.add(requirement.permission)
            elif isinstance(requirement, ByAction):
                codes |= {requirement.default, *requirement.choices.values()}
        return codes

    def has_permission(self, request: Request, view: Any) -> bool:
        requirement = self.requirement(request.method)
        if requirement is None or not hasattr(view, request.method.lower()):
            return True  # not declared here (the handler checks), or DRF answers 405
        if not (request.user and request.user.is_authenticated):
            return False  # 401, whatever the order of permission_classes
        _throttle_now(request, view)
        resolve = getattr(view, "resolve_organization", None)
        if resolve is not None:
            organization_id, resource = resolve(request, **view.kwargs)
        elif "org_id" in view.kwargs:
            organization_id, resource = view.kwargs["org_id"], None
        else:
            raise ImproperlyConfigured(f"{type(view).__name__}: no org_id URL argument and no resolve_organization.")
        if organization_id is NO_ORGANIZATION:
            request.membership = None
            return True
        try:
            request.membership = self._access(request, organization_id, requirement, resource)
        except (OrganizationNotFound, PermissionDenied) as exc:
            reword = getattr(view, "access_error", None)
            replacement = reword(exc) if reword is not None else None
            if replacement is None:
                raise
            raise replacement from None
        return True

    @staticmethod
    def _access(request: Request, organization_id: object, requirement: Requirement,
                resource: Resource | None) -> Membership | KeyMembership:
        if requirement is ANY_MEMBER:
            return org_access(request, organization_id, None)
        if isinstance(requirement, ListPermission):
            membership, ids = list_access(request, organization_id, requirement.permission, requirement.resource_type)
            _visible_ids(request)[(requirement.permission, requirement.resource_type)] = ids
            return membership
        permission = requirement.permission_for(request) if isinstance(requirement, ByAction) else requirement
        return org_access(request, organization_id, permission, resource)


def _throttle_now(request: Request, view: Any) -> None:
    """Run the view's throttles now, once: DRF would run them after the permission classes (and never for a
    refused request). The view instance lives for this request only."""
    view.check_throttles(request)
    view.throttle_classes = ()


# --- Lists filtered by object grants ---------------------------------------------------------------


def granted_ids(caller: Caller, permission: str, resource_type: str, facts: RequestFacts) -> frozenset[str]:
    """Ids of the objects of `resource_type` on which the caller holds `permission` through an object grant (to
    them or to one of their teams) and the decision allows it (a deny policy on the object still wins)."""
    if caller.access is None:  # API keys hold no grants
        return frozenset()
    candidates = {rid for perm, rtype, rid, _ in caller.grants if perm == permission and rtype == resource_type}
    return frozenset(rid for rid in candidates
                     if decide(caller=caller, permission=permission, resource=Resource(resource_type, rid),
                               facts=facts).allowed)


def list_access(request: Request, organization_id: object, permission: str, resource_type: str
                ) -> tuple[Membership | KeyMembership, frozenset[str] | None]:
    """The caller's membership and what a list of `resource_type` may show: None for every object (`permission`
    held organization-wide), else the ids of the objects granted. 404 for strangers (and the organization's own
    rules), 403 `permission_denied` (as from org_access) when neither."""
    caller, membership = caller_for(request, organization_id)
    facts = request_facts(request)
    decision = decide(caller=caller, permission=permission, facts=facts)
    if decision.allowed:
        return membership, None
    ids = granted_ids(caller, permission, resource_type, facts)
    if not ids:
        raise PermissionDenied(denial_detail(decision, membership), extra={"permission": permission})
    return membership, ids


def _visible_ids(request: Request) -> dict[tuple[str, str], frozenset[str] | None]:
    found = getattr(request, "visible_ids", None)
    if found is None:
        found = request.visible_ids = {}
    return found


def visible(request: Request, queryset: QuerySet, permission: str, resource_type: str) -> QuerySet:
    """`queryset` (already limited to the caller's organization) narrowed to what the caller may see with
    `permission`: all of it when held organization-wide, else the objects its grants name. Uses what
    `HasPermission(GET=ListPermission(permission, resource_type))` found; asks again otherwise."""
    scopes = _visible_ids(request)
    if (permission, resource_type) not in scopes:
        scopes[(permission, resource_type)] = list_access(request, request.membership.organization_id, permission,
                                                          resource_type)[1]
    ids = scopes[(permission, resource_type)]
    if ids is None:
        return queryset
    pk = queryset.model._meta.pk
    keys = []
    for rid in ids:
        try:
            keys.append(pk.to_python(rid))
        except DjangoValidationError:  # a grant naming a malformed id names nothing here
            continue
    return queryset.filter(pk__in=keys)
