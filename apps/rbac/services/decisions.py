"""The one answer to "may this caller do this here?" (docs/access-control.md).

tenant (membership, or the key's own organization; anything else is 404) → permissions of the roles
held (own role, team roles, their parents) or an API key's scopes → object grants on the named
resource → policies (deny wins) → a Decision naming every role, grant and policy considered.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.utils import timezone

from apps.orgs.errors import OrganizationNotFound
from apps.orgs.models import Organization
from apps.orgs.roles import SystemRole
from apps.rbac import cache, catalog, policies
from apps.rbac.models import ApiKey
from apps.rbac.selectors import MemberAccess, member_access, member_grants

# A deny policy can lock everyone out of what it names; for the policies themselves that would be
# irreversible through the product, so an organization's owners are exempt from denies on policies:*.
OWNER_SAFEGUARD_PREFIX = "policies:"


@dataclass(frozen=True)
class Resource:
    type: str
    id: str


@dataclass(frozen=True)
class RequestFacts:
    ip: str | None = None
    time: dt.datetime | None = None
    mfa_age: int = -1  # seconds since the last second factor; -1 = none in this session
    user_agent: str = ""
    context: dict[str, Any] = field(default_factory=dict)  # caller-supplied attributes (POST /rbac/check)


@dataclass
class Decision:
    allowed: bool
    reason: str
    permission: str
    trace: list[dict[str, Any]] = field(default_factory=list)
    denied_by_policy: bool = False


@dataclass(frozen=True)
class Caller:
    """A user's membership or an API key, resolved inside one organization."""

    type: str  # "user" | "api_key"
    id: str
    organization: Organization
    email: str = ""
    access: MemberAccess | None = None  # users
    scopes: frozenset[str] = frozenset()  # API keys
    version: int = 0  # the organization's access version (cache.versions)
    policy_version: int = 0
    user: Any = field(default=None, compare=False, repr=False)

    @cached_property
    def grants(self) -> frozenset[tuple[str, str, str, str]]:
        """The member's and their teams' object grants (none for keys), read at the first check that needs
        them and cached like the snapshot, per (organization, user, access version)."""
        if self.access is None:
            return frozenset()
        return cache.cached("grants", self.organization.pk, self.id, self.version, lambda: member_grants(
            organization_id=self.organization.pk, user_id=self.id, team_ids=self.access.team_ids))

    def grants_on(self, resource_type: str, resource_id: str) -> tuple[tuple[str, str, str, str], ...]:
        return self._grants_by_object.get((resource_type, resource_id), ())

    @cached_property
    def _grants_by_object(self) -> dict[tuple[str, str], tuple[tuple[str, str, str, str], ...]]:
        index: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
        for grant in sorted(self.grants):
            index.setdefault((grant[1], grant[2]), []).append(grant)
        return {key: tuple(rows) for key, rows in index.items()}

    @cached_property
    def mfa_enabled(self) -> bool:
        """Read only when a policy condition asks (a query the hot path does without)."""
        from apps.accounts import hooks as account_hooks

        return self.user is not None and bool(account_hooks.mfa_enabled(self.user))

    @property
    def policy_keys(self) -> frozenset[str]:
        if self.type == "api_key":
            return frozenset({f"apikey:{self.id}"})
        keys = {f"user:{self.id}"}
        keys |= {f"team:{team_id}" for team_id in self.access.team_ids}
        keys |= {f"role:{name}" for _, _, chain in self.access.roles for name in chain}
        return frozenset(keys)


def user_caller(*, user: Any, organization: Organization) -> Caller:
    """The user inside `organization`; OrganizationNotFound (404) if they are not an active member."""
    ver, policy_ver = cache.versions(organization.pk)
    access = None
    if user is not None and getattr(user, "is_authenticated", False):
        access = cache.cached("member", organization.pk, str(user.pk), ver,
                              lambda: member_access(organization_id=organization.pk, user_id=user.pk) or False)
    if not access:
        raise OrganizationNotFound("No such organization.")
    return Caller(type="user", id=str(user.pk), organization=organization, email=user.email, access=access,
                  version=ver, policy_version=policy_ver, user=user)


def api_key_caller(*, key: ApiKey, organization: Organization) -> Caller:
    if key.organization_id != organization.pk:
        raise OrganizationNotFound("No such organization.")
    ver, policy_ver = cache.versions(organization.pk)
    return Caller(type="api_key", id=str(key.pk), organization=organization, scopes=frozenset(key.scopes),
                  version=ver, policy_version=policy_ver)


def _activation(caller: Caller, resource: Resource, facts: RequestFacts, now: dt.datetime, *,
                with_mfa: bool) -> dict[str, Any]:
    org = caller.organization
    roles = sorted({name for _, _, chain in caller.access.roles for name in chain}) if caller.access else []
    return {
        "subject": {"type": caller.type, "id": caller.id, "email": caller.email, "roles": roles,
                    "teams": sorted(caller.access.team_ids) if caller.access else [],
                    "mfa_enabled": caller.mfa_enabled if with_mfa else False},
        "resource": {"type": resource.type, "id": resource.id},
        "request": {"ip": facts.ip or "", "time": facts.time or now, "mfa_age": facts.mfa_age,
                    "user_agent": facts.user_agent, "context": facts.context},
        "organization": {"id": str(org.pk), "slug": org.slug, "name": org.name, "mfa_required": org.mfa_required},
    }


def decide(*, caller: Caller, permission: str, resource: Resource | None = None,
           facts: RequestFacts | None = None, trace_all: bool = False) -> Decision:
    if not catalog.exists(permission):
        return Decision(False, f"{permission} is not a permission in the catalog.", permission,
                        [{"kind": "catalog", "matched": False, "why": "unknown permission"}])
    organization = caller.organization
    resource = resource or Resource("organization", str(organization.pk))
    facts = facts or RequestFacts()
    now = timezone.now()
    trace: list[dict[str, Any]] = []
    granted_by: str | None = None

    if caller.type == "api_key":
        in_scope = permission in caller.scopes
        trace.append({"kind": "scope", "matched": in_scope,
                      "why": f"the key's scopes {'include' if in_scope else 'do not include'} {permission}"})
        granted_by = "the API key's scopes" if in_scope else None
    else:
        for name, via, chain in caller.access.roles:
            holds = permission in caller.access.role_permissions[name]
            inherited = f" (inherits {', '.join(chain[1:])})" if len(chain) > 1 else ""
            trace.append({"kind": "role", "name": name, "via": via, "matched": holds,
                          "why": f"role {name}{inherited} {'grants' if holds else 'does not grant'} {permission}"})
            if holds and granted_by is None:
                granted_by = f"role {name}" + (f" (held through {via})" if via != "member" else "")
        # Grants only matter when no role allows (or for the full trace): most checks never read them.
        for perm, rtype, rid, via in (caller.grants_on(resource.type, resource.id)
                                      if granted_by is None or trace_all else ()):
            matched = perm == permission
            trace.append({"kind": "grant", "permission": perm, "resource": f"{rtype}:{rid}", "via": via,
                          "matched": matched,
                          "why": f"grant of {perm} on {rtype}:{rid} to {via}"
                                 + ("" if matched else f" is not {permission}")})
            if matched and granted_by is None:
                granted_by = f"a grant of {permission} on {rtype}:{rid} to {via}"

    compiled = policies.policy_set(organization.pk, caller.policy_version)
    indexed = isinstance(compiled, policies.PolicySet) and not trace_all
    if indexed and not compiled.naming(permission):
        allows, denies, policy_trace = [], [], []  # no policy names the permission: nothing to evaluate
    else:
        needs = compiled.needs(permission).get("subject", frozenset()) if indexed else None
        allows, denies, policy_trace = policies.evaluate(
            compiled, permission=permission, resource=(resource.type, resource.id),
            subject=policies.PolicySubject(keys=caller.policy_keys),
            activation=_activation(caller, resource, facts, now, with_mfa=needs is None or "mfa_enabled" in needs),
            now=now, trace_all=trace_all,
            # an allow policy cannot add to what a key's scopes or a user's roles and grants already decide
            base_allowed=granted_by is not None or caller.type == "api_key")
    trace.extend(policy_trace)

    if denies and caller.type == "user" and permission.startswith(OWNER_SAFEGUARD_PREFIX) and any(
            name == SystemRole.OWNER and via == "member" for name, via, _ in caller.access.roles):
        trace.append({"kind": "safeguard", "matched": True,
                      "why": "owners are never locked out of managing policies: policy denies do not apply"})
        denies = []
    if denies:
        first = denies[0]
        return Decision(False, f"denied by policy {first.name!r} (priority {first.priority})", permission, trace,
                        denied_by_policy=True)
    if granted_by is not None:
        return Decision(True, f"allowed by {granted_by}", permission, trace)
    if allows and caller.type == "user":  # a key never exceeds its scopes, whatever a policy says
        first = allows[0]
        return Decision(True, f"allowed by policy {first.name!r} (priority {first.priority})", permission, trace)
    what = "the API key's scopes" if caller.type == "api_key" else "no role, grant or policy"
    return Decision(False, f"{what} allow {permission}" if caller.type == "user"
                    else f"{permission} is outside {what}", permission, trace)


def resource_parse(value: dict | None, organization_id: uuid.UUID) -> Resource | None:
    """A `{type, id}` body into a Resource (None if absent); ValueError if the type is unknown."""
    from apps.rbac import resources

    if not value:
        return None
    if resources.get(value.get("type", "")) is None:
        raise ValueError(f"Unknown resource type; one of {', '.join(resources.names())}.")
    return Resource(type=value["type"], id=str(value.get("id", "")))
