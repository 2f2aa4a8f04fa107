"""The policy engine: which of an organization's policies apply to a check, and what they say.

Rules (docs/access-control.md): a policy applies when it is enabled and not expired, one of its action
patterns matches the permission, one of its resource patterns matches `type:id` (no patterns = any), one
of its subjects is the caller (no subjects = everyone), and its condition (if any) is true. Policies
are considered from the highest priority down; every applicable deny denies, whatever the priority of
the allows (deny overrides allow), and the highest-priority deny is reported as the reason. A condition
that fails to evaluate counts as a deny and is logged. Priority orders the trace and names the reason.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from apps.rbac import cache, conditions
from apps.rbac.models import Policy, PolicyEffect

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompiledPolicy:
    id: str
    name: str
    effect: str
    priority: int
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    subjects: tuple[str, ...]
    condition: str
    expires_at: dt.datetime | None
    program: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, policy: Policy) -> CompiledPolicy:
        program = None
        if policy.condition:
            try:
                program = conditions.compile_condition(policy.condition)
            except conditions.InvalidCondition as exc:  # saved before a validation rule existed: deny
                logger.warning("policy %s has an invalid condition: %s", policy.pk, exc)
                program = exc
        return cls(id=str(policy.pk), name=policy.name, effect=policy.effect, priority=policy.priority,
                   actions=tuple(policy.actions), resources=tuple(policy.resources), subjects=tuple(policy.subjects),
                   condition=policy.condition, expires_at=policy.expires_at, program=program)


def policy_set(organization_id: uuid.UUID, ver: int) -> tuple[CompiledPolicy, ...]:
    """The organization's enabled policies, compiled, highest priority first (in-process, per version)."""
    def load() -> tuple[CompiledPolicy, ...]:
        rows = Policy.objects.filter(organization_id=organization_id, enabled=True).order_by("-priority", "name")
        return tuple(CompiledPolicy.of(row) for row in rows)

    return cache.cached("policies", organization_id, "*", ver, load, shared=False)


@dataclass(frozen=True)
class PolicySubject:
    """Who the policy subjects are matched against: `user:<id>`, `team:<id>`, `role:<name>`, `apikey:<id>`."""

    keys: frozenset[str]


def _matches_any(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def evaluate(policies: tuple[CompiledPolicy, ...], *, permission: str, resource: tuple[str, str],
             subject: PolicySubject, activation: dict[str, Any], now: dt.datetime,
             trace_all: bool = False) -> tuple[list[CompiledPolicy], list[CompiledPolicy], list[dict]]:
    """(applicable allows, applicable denies, trace). With `trace_all`, the trace also names the
    policies that did not apply and why; otherwise only those that matched the permission."""
    allows: list[CompiledPolicy] = []
    denies: list[CompiledPolicy] = []
    trace: list[dict] = []
    resource_key = f"{resource[0]}:{resource[1]}"
    for policy in policies:
        entry = {"kind": "policy", "id": policy.id, "name": policy.name, "effect": policy.effect,
                 "priority": policy.priority}
        if not _matches_any(permission, policy.actions):
            if trace_all:
                trace.append({**entry, "matched": False, "why": f"no action pattern matches {permission}"})
            continue
        if policy.expires_at is not None and policy.expires_at <= now:
            trace.append({**entry, "matched": False, "why": f"expired at {policy.expires_at.isoformat()}"})
            continue
        if policy.resources and not _matches_any(resource_key, policy.resources):
            trace.append({**entry, "matched": False, "why": f"no resource pattern matches {resource_key}"})
            continue
        if policy.subjects and "*" not in policy.subjects and not subject.keys.intersection(policy.subjects):
            trace.append({**entry, "matched": False, "why": "the caller is not among its subjects"})
            continue
        if policy.program is not None:
            try:
                if isinstance(policy.program, Exception):
                    raise conditions.ConditionError(str(policy.program))
                holds = conditions.evaluate(policy.program, activation)
            except conditions.ConditionError as exc:
                logger.warning("policy %s (%s) failed to evaluate for %s: %s", policy.id, policy.name, permission, exc)
                _report_failure(policy, permission, exc, activation.get("organization", {}).get("id"))
                trace.append({**entry, "matched": True, "effect": PolicyEffect.DENY,
                              "why": f"its condition failed to evaluate ({exc}); counted as a deny"})
                denies.append(policy)
                continue
            if not holds:
                trace.append({**entry, "matched": False, "why": "its condition is false"})
                continue
        why = "applies" + (" and its condition is true" if policy.program is not None else "")
        trace.append({**entry, "matched": True, "why": why})
        (denies if policy.effect == PolicyEffect.DENY else allows).append(policy)
    return allows, denies, trace


FAILURE_REPORT_INTERVAL = 600  # seconds: at most one audit event per failing policy in this time


def _report_failure(policy: CompiledPolicy, permission: str, exc: Exception, organization_id: str | None) -> None:
    """Put a failing condition in the organization's audit trail, once per policy per interval (a busy
    endpoint must not flood the trail; the log line is written every time)."""
    from django.core.cache import cache as shared_cache

    from apps.audit.services import Target, emit

    if not organization_id or not shared_cache.add(f"rbac:evalfail:{policy.id}", 1, FAILURE_REPORT_INTERVAL):
        return
    emit(action="policy.evaluation_failed", organization_id=organization_id, target=Target(type="policy", id=policy.id),
         metadata={"policy_id": policy.id, "error": str(exc)[:500], "permission": permission})
