"""Policies of an organization (API.md "Access control": Policies) and their evaluation on demand.

A policy is validated whole when it is saved, so the engine (apps.rbac.policies) can trust it: its
action patterns each cover at least one catalog code, its resources name known types, its subjects
are members, teams, roles and keys of *this* organization, and its condition compiles. Every change
is audited in the organization's chain; the audit event bumps the organization's access version
(apps.rbac.cache), so the next check anywhere sees the change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import emit
from apps.orgs.errors import MemberNotFound
from apps.orgs.models import Membership, MembershipStatus, Organization, Team
from apps.rbac import catalog, conditions, resources
from apps.rbac.errors import ApiKeyNotFound, PolicyNameTaken, PolicyNotFound
from apps.rbac.models import ApiKey, Policy, PolicyEffect
from apps.rbac.selectors import role_by_name
from apps.rbac.services.decisions import (
    Caller,
    Decision,
    RequestFacts,
    api_key_caller,
    decide,
    resource_parse,
    user_caller,
)
from apps.rbac.services.roles import escalation_check

POLICY_FIELDS = ("name", "description", "effect", "priority", "actions", "resources", "subjects", "condition",
                 "enabled", "expires_at")
REQUIRED_ON_CREATE = ("name", "effect", "actions")
MAX_PRIORITY = 1000
MAX_ACTIONS, MAX_RESOURCES, MAX_SUBJECTS = 50, 50, 100
_ACTION = re.compile(r"^[a-z_*]+(:[a-z_*]+)?$")
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9_*-]{1,100}$")
SUBJECT_KINDS = ("user", "team", "role", "apikey")


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        return None


# Reads ---------------------------------------------------------------------------------------------

def policy_list(*, organization: Organization) -> QuerySet[Policy]:
    return Policy.objects.filter(organization=organization)


def policy_get(*, policy_id: object, organization: Organization | None = None,
               organization_ids: Any = None) -> Policy:
    """A policy of `organization` (or of one of `organization_ids`); 404 for unknown ids, malformed ids and
    other tenants' policies alike."""
    pk = _uuid_or_none(policy_id)
    scope = [organization.pk] if organization is not None else organization_ids
    policy = None
    if pk is not None and scope is not None:
        policy = (Policy.objects.select_related("organization")
                  .filter(pk=pk, organization_id__in=scope, organization__deleted_at__isnull=True).first())
    if policy is None:
        raise PolicyNotFound("No such policy.")
    return policy


def policy_get_for_caller(*, policy_id: object, user: Any, api_key: ApiKey | None = None) -> Policy:
    """A policy of one of the caller's live organizations (an API key: its own organization only)."""
    if api_key is not None:
        scope: Any = [api_key.organization_id]
    elif getattr(user, "is_authenticated", False) and isinstance(user, User):
        scope = Membership.objects.filter(user=user, status=MembershipStatus.ACTIVE).values("organization_id")
    else:
        scope = None
    return policy_get(policy_id=policy_id, organization_ids=scope)


# Validation ----------------------------------------------------------------------------------------

class _Errors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[ValidationError]] = {}

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.by_field.setdefault(field, []).append(ValidationError(message, code=code))

    def raise_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


def _string_list(value: Any, field: str, errors: _Errors, *, maximum: int) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.add(field, "A list of strings.")
        return None
    if len(value) > maximum:
        errors.add(field, f"At most {maximum} entries.")
        return None
    return list(dict.fromkeys(item.strip() for item in value))  # trimmed, duplicates dropped, order kept


def _clean_actions(value: Any, errors: _Errors) -> list[str] | None:
    actions = _string_list(value, "actions", errors, maximum=MAX_ACTIONS)
    if actions is None:
        return None
    if not actions:
        errors.add("actions", "At least one permission pattern, e.g. members:invite, members:* or *:read.",
                   code="required")
        return None
    for action in actions:
        if not _ACTION.match(action) or not catalog.matching(action):
            errors.add("actions", f"{action!r} matches no permission in the catalog (GET /api/v1/rbac/permissions).",
                       code="unknown_permission")
    return actions


def _clean_resources(value: Any, errors: _Errors) -> list[str] | None:
    patterns = _string_list(value, "resources", errors, maximum=MAX_RESOURCES)
    if patterns is None:
        return None
    cleaned = []
    for pattern in patterns:
        if pattern == "*":
            cleaned.append(pattern)
            continue
        kind, colon, ident = pattern.partition(":")
        if not colon or resources.get(kind) is None:
            errors.add("resources", f"{pattern!r}: a resource is `type:id` (id may hold `*`) with a type among "
                                    f"{', '.join(resources.names())}, or `*`.")
        elif not _RESOURCE_ID.match(ident):
            errors.add("resources", f"{pattern!r}: the id is an object's id or a pattern such as `*`.")
        else:
            pk = _uuid_or_none(ident) if len(ident) >= 32 else None
            cleaned.append(f"{kind}:{pk}" if pk is not None else pattern)  # ids in the canonical form checks use
    return list(dict.fromkeys(cleaned))


def _clean_subject(subject: str, organization: Organization, errors: _Errors) -> str | None:
    if subject == "*":
        return subject
    kind, colon, ident = subject.partition(":")
    if not colon or kind not in SUBJECT_KINDS:
        errors.add("subjects", f"{subject!r}: a subject is user:<id>, team:<id>, role:<name>, apikey:<id> or *.")
        return None
    if kind == "role":
        role = role_by_name(organization=organization, name=ident)
        if role is None:
            errors.add("subjects", f"{subject!r}: no such role in this organization.", code="unknown_role")
            return None
        return f"role:{role.name}"
    pk = _uuid_or_none(ident)
    found = pk is not None and {
        "user": lambda: Membership.objects.filter(organization=organization, user_id=pk).exists(),
        "team": lambda: Team.objects.filter(organization=organization, pk=pk).exists(),
        "apikey": lambda: ApiKey.objects.filter(organization=organization, pk=pk).exists(),
    }[kind]()
    if not found:
        what = {"user": "member", "team": "team", "apikey": "API key"}[kind]
        errors.add("subjects", f"{subject!r}: no such {what} in this organization.", code="unknown_subject")
        return None
    return f"{kind}:{pk}"


def _clean_subjects(value: Any, organization: Organization, errors: _Errors) -> list[str] | None:
    subjects = _string_list(value, "subjects", errors, maximum=MAX_SUBJECTS)
    if subjects is None:
        return None
    cleaned = [_clean_subject(subject, organization, errors) for subject in subjects]
    return list(dict.fromkeys(s for s in cleaned if s is not None))


def _clean(data: dict[str, Any], organization: Organization, errors: _Errors) -> dict[str, Any]:
    """Normalized values of the fields present in `data`; problems are collected in `errors`."""
    out: dict[str, Any] = {}
    if "name" in data:
        name = data["name"].strip() if isinstance(data["name"], str) else None
        if not name or len(name) > 100:
            errors.add("name", "1 to 100 characters.")
        out["name"] = name
    if "description" in data:
        description = data["description"] or ""
        if not isinstance(description, str) or len(description) > 500:
            errors.add("description", "At most 500 characters.")
        out["description"] = description
    if "effect" in data:
        if data["effect"] not in PolicyEffect.values:
            errors.add("effect", "Either allow or deny.")
        out["effect"] = data["effect"]
    if "priority" in data:
        priority = data["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
            errors.add("priority", f"An integer from 0 to {MAX_PRIORITY}.")
        out["priority"] = priority
    if "actions" in data:
        out["actions"] = _clean_actions(data["actions"], errors)
    if "resources" in data:
        out["resources"] = _clean_resources(data["resources"] or [], errors)
    if "subjects" in data:
        out["subjects"] = _clean_subjects(data["subjects"] or [], organization, errors)
    if "condition" in data:
        condition = (data["condition"] or "").strip() if isinstance(data["condition"], str | None) else None
        if condition is None:
            errors.add("condition", "A CEL expression (a string).")
        elif condition:
            try:
                conditions.compile_condition(condition)
            except conditions.InvalidCondition as exc:
                errors.add("condition", str(exc), code="invalid_condition")
        out["condition"] = condition
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            errors.add("enabled", "true or false.")
        out["enabled"] = data["enabled"]
    if "expires_at" in data:
        expires_at = data["expires_at"]
        if expires_at is not None and not isinstance(expires_at, dt.datetime):
            errors.add("expires_at", "A date-time (RFC 3339) or null.")
        elif expires_at is not None and expires_at <= timezone.now():
            errors.add("expires_at", "Must be in the future.", code="in_the_past")
        out["expires_at"] = expires_at
    return out


def _ensure_held(*, caller: Caller | None, policy_name: str, effect: str, actions: list[str],
                 facts: RequestFacts | None) -> None:
    """An allow policy hands its permissions out like a role does: only what the caller may use itself
    (PrivilegeEscalation otherwise; services.roles.escalation_check). No caller = the system: unchecked."""
    if effect != PolicyEffect.ALLOW or caller is None:
        return
    covered = {code for action in actions for code in catalog.matching(action)}
    escalation_check(caller=caller, permissions=covered, what=f"The policy {policy_name!r}", facts=facts)


# Fields whose change can widen what an allow policy hands out (name, description, priority cannot).
_WIDENING = frozenset({"effect", "actions", "resources", "subjects", "condition", "enabled", "expires_at"})


def _audit_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _save(policy: Policy, **kwargs: Any) -> None:
    policy.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            policy.save(**kwargs)
    except IntegrityError:
        raise PolicyNameTaken(f"A policy named {policy.name!r} exists in this organization.") from None


# Writes --------------------------------------------------------------------------------------------

@transaction.atomic
def policy_create(*, organization: Organization, actor: Any, caller: Caller | None,
                  facts: RequestFacts | None = None, **fields: Any) -> Policy:
    """`caller` is the actor inside the organization (decisions.user_caller / api_key_caller), None for the
    system; an allow policy may only cover what it may use (with `facts`, the request's)."""
    errors = _Errors()
    for name in REQUIRED_ON_CREATE:
        if name not in fields:
            errors.add(name, "This field is required.", code="required")
    unknown = sorted(set(fields) - set(POLICY_FIELDS))
    if unknown:
        raise TypeError(f"policy_create() got unexpected fields {unknown}")
    values = _clean(fields, organization, errors)
    errors.raise_any()
    _ensure_held(caller=caller, policy_name=values["name"], effect=values["effect"], actions=values["actions"],
                 facts=facts)
    policy = Policy(organization=organization, created_by=actor if isinstance(actor, User) else None, **values)
    _save(policy)
    emit(action="policy.created", actor=actor, organization_id=organization.pk, target=policy,
         metadata={name: _audit_value(getattr(policy, name)) for name in POLICY_FIELDS if name != "description"})
    return policy


@transaction.atomic
def policy_update(*, policy: Policy, actor: Any, caller: Caller | None, data: dict[str, Any],
                  facts: RequestFacts | None = None) -> Policy:
    """Change the fields present in `data` (others stay); nothing is written or audited if nothing changes.
    A change that could widen an allow policy is checked against what `caller` holds, as on create."""
    policy = Policy.objects.select_for_update().select_related("organization").get(pk=policy.pk)
    errors = _Errors()
    data = {k: v for k, v in data.items() if k in POLICY_FIELDS}
    if "expires_at" in data and data["expires_at"] == policy.expires_at:
        data.pop("expires_at")  # re-sending the stored (maybe past) expiry is not setting one
    values = _clean(data, policy.organization, errors)
    errors.raise_any()
    changes = {k: [getattr(policy, k), v] for k, v in values.items() if getattr(policy, k) != v}
    if not changes:
        return policy
    for name, (_, new) in changes.items():
        setattr(policy, name, new)
    if _WIDENING.intersection(changes):
        _ensure_held(caller=caller, policy_name=policy.name, effect=policy.effect, actions=policy.actions,
                     facts=facts)
    _save(policy, update_fields=[*changes, "updated_at"])
    emit(action="policy.updated", actor=actor, organization_id=policy.organization_id, target=policy,
         changes={k: [_audit_value(old), _audit_value(new)] for k, (old, new) in changes.items()})
    return policy


@transaction.atomic
def policy_delete(*, policy: Policy, actor: Any) -> None:
    emit(action="policy.deleted", actor=actor, organization_id=policy.organization_id, target=policy,
         metadata={"name": policy.name})
    policy.delete()


# Evaluation ----------------------------------------------------------------------------------------

def evaluation_subject(*, organization: Organization, subject: dict[str, Any] | None, user: Any,
                       api_key: ApiKey | None) -> Caller:
    """Whom `/policies/evaluate` asks about: the caller by default, else a member or a live key of this
    organization (404 otherwise, whether it does not exist or belongs to someone else)."""
    if not subject:
        if api_key is not None:
            return api_key_caller(key=api_key, organization=organization)
        return user_caller(user=user, organization=organization)
    pk = _uuid_or_none(subject.get("id"))
    if subject.get("type") == "api_key":
        key = (ApiKey.objects.filter(pk=pk, organization=organization, revoked_at__isnull=True).first()
               if pk else None)
        if key is None:
            raise ApiKeyNotFound("No such API key in this organization.")
        return api_key_caller(key=key, organization=organization)
    member = (Membership.objects.select_related("user")
              .filter(organization=organization, user_id=pk, status=MembershipStatus.ACTIVE).first() if pk else None)
    if member is None:
        raise MemberNotFound("No such member in this organization.")
    return user_caller(user=member.user, organization=organization)


def evaluation_facts(*, defaults: RequestFacts, context: dict[str, Any] | None) -> RequestFacts:
    """The request's own facts, overridden by the `context` the caller wants to try (ip, time, mfa_age, …)."""
    context = dict(context or {})
    given = {k: v for k, v in context.items() if k in ("ip", "time", "mfa_age", "user_agent")}
    if "attributes" in context:
        given["context"] = dict(context["attributes"] or {})  # what conditions see as request.context
    return dataclasses.replace(defaults, **given)


def policy_evaluate(*, caller: Caller, permission: str, resource: dict[str, Any] | None,
                    facts: RequestFacts) -> Decision:
    """The full decision for `caller`, naming every role, grant and policy considered (and why)."""
    if not catalog.exists(permission):
        raise ValidationError({"permission": [ValidationError(
            f"{permission!r} is not a permission in the catalog (GET /api/v1/rbac/permissions).",
            code="unknown_permission")]})
    try:
        parsed = resource_parse(resource, caller.organization.pk)
    except ValueError as exc:
        raise ValidationError({"resource.type": [ValidationError(str(exc), code="unknown_resource_type")]}) from None
    return decide(caller=caller, permission=permission, resource=parsed, facts=facts, trace_all=True)
