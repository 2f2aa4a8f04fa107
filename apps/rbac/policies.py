"""The policy engine: which of an organization's policies apply to a check, and what they say.

Rules (docs/access-control.md): a policy applies when it is enabled and not expired, one of its action
patterns matches the permission, one of its resource patterns matches `type:id` (no patterns = any), one
of its subjects is the caller (no subjects = everyone), and its condition (if any) is true. Policies
are considered from the highest priority down; every applicable deny denies, whatever the priority of
the allows (deny overrides allow), and the highest-priority deny is reported as the reason. A condition
that fails to evaluate fails closed: a deny whose condition fails denies, an allow whose condition fails
does not allow; either way it is logged. Priority orders the trace and names the reason.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
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
    # What `program` reads of each variable (conditions.program_needs); None: unknown, convert them whole.
    needs: dict[str, frozenset[str] | None] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, policy: Policy) -> CompiledPolicy:
        return cls._of_row(*(getattr(policy, name) for name in _ROW))

    @classmethod
    def _of_row(cls, pk: uuid.UUID, name: str, effect: str, priority: int, actions: list[str], resources: list[str],
                subjects: list[str], condition: str, expires_at: dt.datetime | None) -> CompiledPolicy:
        program, needs = None, None
        if condition:
            program, needs = _compiled(condition)
            if isinstance(program, conditions.InvalidCondition):  # saved before a validation rule existed: deny
                logger.warning("policy %s has an invalid condition: %s", pk, program)
        return cls(id=str(pk), name=name, effect=effect, priority=priority, actions=tuple(actions),
                   resources=tuple(resources), subjects=tuple(subjects), condition=condition, expires_at=expires_at,
                   program=program, needs=needs)

    @cached_property
    def trace_head(self) -> dict[str, Any]:  # the first keys of each trace entry about this policy (copied)
        return {"kind": "policy", "id": self.id, "name": self.name, "effect": self.effect, "priority": self.priority}


_ROW = ("pk", "name", "effect", "priority", "actions", "resources", "subjects", "condition", "expires_at")


@lru_cache(maxsize=4096)
def _compiled(expression: str) -> tuple[Any, dict[str, frozenset[str] | None] | None]:
    """compile_condition() once per expression in this process: every new access version recompiles all the
    organization's policies, and compiling (parse, checks, a run on the sample) costs ~0.2 ms per condition.
    (program or the InvalidCondition, what the program reads). Programs are immutable."""
    try:
        program = conditions.compile_condition(expression)
    except conditions.InvalidCondition as exc:
        return exc, None
    return program, conditions.program_needs(expression, program)


class PolicySet(tuple):
    """policy_set()'s answer: the compiled policies, highest priority first (a tuple), which also remembers,
    per permission, those whose action patterns match it, so a check skips the others without pattern
    matching (~2 µs per policy)."""

    MAX_REMEMBERED = 512  # permissions (catalog codes, in practice)

    def naming(self, permission: str) -> tuple[CompiledPolicy, ...]:
        return self._remembered(permission)[0]

    def needs(self, permission: str) -> dict[str, frozenset[str] | None]:
        """What the conditions of the policies naming `permission` read, together (conditions.Evaluator)."""
        return self._remembered(permission)[1]

    def _remembered(self, permission: str) -> tuple[tuple[CompiledPolicy, ...], dict[str, frozenset[str] | None]]:
        remembered = self.__dict__.setdefault("_by_permission", {})
        found = remembered.get(permission)
        if found is None:
            naming = tuple(policy for policy in self if _matches_any(permission, policy.actions))
            needs: dict[str, frozenset[str] | None] = {}
            for policy in naming:
                if policy.program is None or isinstance(policy.program, Exception):
                    continue
                for name, attributes in (policy.needs or dict.fromkeys(conditions.VARIABLES)).items():
                    known = needs.get(name, frozenset())
                    needs[name] = None if attributes is None or known is None else known | attributes
            found = (naming, needs)
            if len(remembered) < self.MAX_REMEMBERED:
                remembered[permission] = found
        return found


def policy_set(organization_id: uuid.UUID, ver: int) -> tuple[CompiledPolicy, ...]:
    """The organization's enabled policies, compiled, highest priority first, for its policies version
    (`cache.versions()[1]`): the rows are shared through Redis, the compiled set is kept in-process
    (CEL programs cannot be pickled), each condition compiled once per process."""
    def rows() -> list[tuple]:
        return list(Policy.objects.filter(organization_id=organization_id, enabled=True)
                    .order_by("-priority", "name")
                    .values_list(*_ROW))  # plain rows: model instances cost 3× more for 200 policies

    def load() -> tuple[CompiledPolicy, ...]:
        shared_rows = cache.cached("policyrows", organization_id, "*", ver, rows)
        return PolicySet(CompiledPolicy._of_row(*row) for row in shared_rows)

    return cache.cached("policies", organization_id, "*", ver, load, shared=False)


@dataclass(frozen=True)
class PolicySubject:
    """Who the policy subjects are matched against: `user:<id>`, `team:<id>`, `role:<name>`, `apikey:<id>`."""

    keys: frozenset[str]


@lru_cache(maxsize=4096)
def _matcher(pattern: str) -> Callable[[str], Any]:
    """fnmatch.fnmatchcase(value, pattern) as one call: equality for a pattern without wildcards."""
    if not any(char in pattern for char in "*?["):
        return pattern.__eq__
    return re.compile(fnmatch.translate(pattern)).match


def _matches_any(value: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if _matcher(pattern)(value):
            return True
    return False


def evaluate(policies: tuple[CompiledPolicy, ...], *, permission: str, resource: tuple[str, str],
             subject: PolicySubject, activation: dict[str, Any], now: dt.datetime, trace_all: bool = False,
             base_allowed: bool | None = None) -> tuple[list[CompiledPolicy], list[CompiledPolicy], list[dict]]:
    """(applicable allows, applicable denies, trace). With `trace_all`, every policy is considered and the
    trace also names those that did not apply and why; otherwise only those that name the permission.

    Given `base_allowed` (whether roles, grants or scopes already allow) and no `trace_all`, evaluation stops
    as soon as the outcome is known: denies first, highest priority first, up to the first that applies;
    then, only if nothing allows yet, allows up to the first that applies. The outcome and the policy named
    as the reason are those of the full evaluation; the trace then names only what was considered."""
    allows: list[CompiledPolicy] = []
    denies: list[CompiledPolicy] = []
    trace: list[dict] = []
    resource_key = f"{resource[0]}:{resource[1]}"
    # A PolicySet knows which policies name the permission: without trace_all, the others leave no trace.
    indexed = not trace_all and isinstance(policies, PolicySet)
    # One CEL context for every condition of this check, converting what they read at the first that runs.
    evaluator = conditions.Evaluator(activation, expected=policies.needs(permission) if indexed else None)
    candidates = policies.naming(permission) if indexed else policies
    decisive = base_allowed is not None and not trace_all
    if decisive:  # stable sorts: priority order is kept within each effect
        candidates = [p for p in candidates if p.effect == PolicyEffect.DENY] + (
            [] if base_allowed else [p for p in candidates if p.effect != PolicyEffect.DENY])
    for policy in candidates:
        entry = policy.trace_head
        if not indexed and not _matches_any(permission, policy.actions):
            if trace_all:
                trace.append({**entry, "matched": False, "why": f"no action pattern matches {permission}"})
            continue
        if policy.expires_at is not None and policy.expires_at <= now:
            trace.append({**entry, "matched": False, "why": f"expired at {policy.expires_at.isoformat()}"})
            continue
        if policy.resources and not _matches_any(resource_key, policy.resources):
            trace.append({**entry, "matched": False, "why": f"no resource pattern matches {resource_key}"})
            continue
        if policy.subjects and "*" not in policy.subjects and subject.keys.isdisjoint(policy.subjects):
            trace.append({**entry, "matched": False, "why": "the caller is not among its subjects"})
            continue
        if policy.program is not None:
            try:
                if isinstance(policy.program, Exception):
                    raise conditions.ConditionError(str(policy.program))
                holds = evaluator.evaluate(policy.program, policy.needs)
            except conditions.ConditionError as exc:
                logger.warning("policy %s (%s) failed to evaluate for %s: %s", policy.id, policy.name, permission, exc)
                _report_failure(policy, permission, exc, activation.get("organization", {}).get("id"))
                if policy.effect != PolicyEffect.DENY:  # a broken allow never allows
                    trace.append({**entry, "matched": False,
                                  "why": f"its condition failed to evaluate ({exc}); a failing allow does not allow"})
                    continue
                trace.append({**entry, "matched": True,
                              "why": f"its condition failed to evaluate ({exc}); a deny that fails denies"})
                denies.append(policy)
                if decisive:
                    break
                continue
            if not holds:
                trace.append({**entry, "matched": False, "why": "its condition is false"})
                continue
        why = "applies" + (" and its condition is true" if policy.program is not None else "")
        trace.append({**entry, "matched": True, "why": why})
        (denies if policy.effect == PolicyEffect.DENY else allows).append(policy)
        if decisive:  # the first applicable deny decides; an allow is only looked for when nothing denies
            break
    return allows, denies, trace


FAILURE_REPORT_INTERVAL = 600  # seconds: at most one audit event per failing policy in this time


def _report_failure(policy: CompiledPolicy, permission: str, exc: Exception, organization_id: str | None) -> None:
    """Put a failing condition in the organization's audit trail, once per policy per interval (a busy
    endpoint must not flood the trail; the log line is written every time)."""
    from django.core.cache import cache as shared_cache

    from apps.audit.services import Target, emit
    from apps.core.deferred import after_request

    if not organization_id or not shared_cache.add(f"rbac:evalfail:{policy.id}", 1, FAILURE_REPORT_INTERVAL):
        return
    # After the request: the refusal this failure causes rolls the request's transaction back.
    after_request(lambda: emit(
        action="policy.evaluation_failed", organization_id=organization_id, target=Target(type="policy", id=policy.id),
        metadata={"policy_id": policy.id, "error": str(exc)[:500], "permission": permission}))
