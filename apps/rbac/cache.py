"""Versioned caching of access data per organization.

Every organization has a version number in the shared cache (Redis). Anything derived from its roles,
memberships, teams, grants, policies or keys is cached under that version: in Redis for all processes
and in a small in-process LRU for the hot path. A change bumps the version, so the next request reads
a new key and recomputes; nothing is ever invalidated by deletion, and old entries simply expire.

The bump happens when an access-relevant audit event is emitted (every such change emits one, in the
same transaction), and once more when that transaction commits: a request that re-cached the old state
between the first bump and the commit is thrown away by the second. Saving or deleting an access-relevant
row bumps too (model signals): that covers writes that bypass the services, such as an operator's edit in
the admin or a shell, which emit no event; the events cover bulk `.update()`s, which send no signal.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from apps.audit.subscribers import listen_in_transaction

SHARED_TIMEOUT = 3600
LOCAL_MAX_ENTRIES = 20_000

# Event prefixes whose changes can alter who may do what in an organization.
ACCESS_EVENT_PREFIXES = ("member.", "team.", "role.", "policy.", "grant.", "apikey.", "organization.",
                         "ownership.", "invitation.accepted", "domain.")
# ...except these, which change nothing and could be triggered at will by strangers (a bad key).
NOT_ACCESS_EVENTS = frozenset({"apikey.rejected", "policy.evaluation_failed", "organization.switched"})
# Events that change the organization's policy set (a role rename rewrites policies: it emits policy.updated).
POLICY_EVENT_PREFIXES = ("policy.",)


# Two versions per organization: "v" for members' access (roles, teams, grants, memberships, keys) and
# "pv" for its policies, so that a member joining does not make every process reload every policy.
_MEMBERS, _POLICIES = "v", "pv"


def _key(kind: str, organization_id: object) -> str:
    return f"rbac:{kind}:{organization_id}"


def versions(organization_id: object) -> tuple[int, int]:
    """(access version, policies version), in one round trip."""
    keys = [_key(_MEMBERS, organization_id), _key(_POLICIES, organization_id)]
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            # Start from the clock, not 1: if Redis lost the key, versions cached before must not come back.
            cache.add(key, time.time_ns(), timeout=None)
            found[key] = cache.get(key)
    return int(found[keys[0]]), int(found[keys[1]])


def version(organization_id: object) -> int:
    return versions(organization_id)[0]


def _incr(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # no key yet: nothing was cached under it
        cache.add(key, time.time_ns(), timeout=None)


def bump(organization_id: object, *, policies: bool = True) -> None:
    """A new access version (and, unless `policies=False`, a new policies version)."""
    _incr(_key(_MEMBERS, organization_id))
    if policies:
        _incr(_key(_POLICIES, organization_id))


def bump_now_and_on_commit(organization_id: object, *, policies: bool = True) -> None:
    bump(organization_id, policies=policies)
    transaction.on_commit(lambda: bump(organization_id, policies=policies))


class _LocalLru:
    def __init__(self, max_entries: int) -> None:
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: tuple, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


local = _LocalLru(LOCAL_MAX_ENTRIES)


def cached(kind: str, organization_id: uuid.UUID, subject: str, ver: int, compute: Callable[[], Any], *,
           shared: bool = True) -> Any:
    """`compute()` once per (kind, organization, subject, version): in-process first, then Redis."""
    local_key = (kind, str(organization_id), subject, ver)
    value = local.get(local_key)
    if value is not None:
        return value
    shared_key = f"rbac:{kind}:{organization_id}:{subject}:{ver}"
    value = cache.get(shared_key) if shared else None
    if value is None:
        value = compute()
        if shared:
            cache.set(shared_key, value, timeout=SHARED_TIMEOUT)
    local.set(local_key, value)
    return value


@listen_in_transaction
def _bump_on_access_change(event) -> None:  # noqa: ANN001
    if (event.organization_id and event.action.startswith(ACCESS_EVENT_PREFIXES)
            and event.action not in NOT_ACCESS_EVENTS):
        bump_now_and_on_commit(event.organization_id, policies=event.action.startswith(POLICY_EVENT_PREFIXES))


# Rows whose change alters access, and how to find their organization.
_ORGANIZATION_OF = {
    "orgs.Organization": lambda row: row.pk,
    "orgs.Membership": lambda row: row.organization_id,
    "orgs.Team": lambda row: row.organization_id,
    "orgs.TeamMembership": lambda row: row.membership.organization_id,
    "rbac.Role": lambda row: row.organization_id,  # None for the system roles, which only migrations change
    "rbac.Policy": lambda row: row.organization_id,
    "rbac.UserObjectGrant": lambda row: row.organization_id,
    "rbac.TeamObjectGrant": lambda row: row.organization_id,
    "rbac.ApiKey": lambda row: row.organization_id,
}


def _bump_on_row_change(sender, instance, **kwargs) -> None:  # noqa: ANN001
    if kwargs.get("raw"):  # fixtures being loaded
        return
    organization_of = _ORGANIZATION_OF.get(sender._meta.label)
    if organization_of is None:
        return
    try:
        organization_id = organization_of(instance)
    except ObjectDoesNotExist:  # a cascade already removed the parent row
        return
    if organization_id:
        bump_now_and_on_commit(organization_id, policies=sender._meta.label == "rbac.Policy")


def connect_row_signals() -> None:
    from django.apps import apps

    for label in _ORGANIZATION_OF:
        model = apps.get_model(label)
        post_save.connect(_bump_on_row_change, sender=model, dispatch_uid=f"rbac-bump-save-{label}")
        post_delete.connect(_bump_on_row_change, sender=model, dispatch_uid=f"rbac-bump-delete-{label}")
