"""API keys of an organization (API.md "Access control": API keys): create, change, rotate, revoke, verify.

A key is `plk_<prefix>_<secret>`: the prefix (12 of [a-z0-9]) names the row, the secret (32 random bytes,
URL-safe base64) is shown once and stored only as a keyed hash (HMAC-SHA256 under SECRET_KEY). A rotation
keeps the prefix and replaces the secret; the previous secret keeps working until `previous_valid_until`
(the overlap), so no second lookup column is needed. Rotating again within an overlap ends the older
secret at once: at most two secrets are valid at any time.

A key never holds more than the person who gave it its scopes: creating a key and adding scopes need each
scope to be allowed to the actor by the decision service (apps.rbac.services.decisions), and rotating a key
(which hands its holder a working secret) needs all of the key's scopes. Every change is audited in the
organization's chain; the audit event bumps the organization's access version (apps.rbac.cache).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import secrets
import string
import uuid
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.accounts.models import User
from apps.audit.services import Target, emit
from apps.orgs.models import Membership, MembershipStatus, Organization
from apps.rbac import catalog
from apps.rbac.errors import ApiKeyNotFound, ApiKeyRevoked, InvalidApiKey
from apps.rbac.models import ApiKey
from apps.rbac.services.decisions import Caller, RequestFacts, api_key_caller, user_caller
from apps.rbac.services.roles import escalation_check

KEY_PREFIX = "plk_"
PREFIX_LENGTH = 12
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_BYTES = 32  # 256 bits; token_urlsafe(32) is 43 characters
_KEY = re.compile(rf"^plk_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43}})$")
_HMAC_SALT = "plinto.rbac.apikey"

DEFAULT_OVERLAP_SECONDS = 3600
MAX_OVERLAP_SECONDS = 7 * 24 * 3600
MAX_ALLOWED_IPS = 50
LAST_USED_INTERVAL = dt.timedelta(seconds=60)  # last_used_at / last_used_ip are written at most this often
REJECTION_AUDIT_INTERVAL = 60  # seconds: at most one apikey.rejected event per key in this window
UPDATABLE_FIELDS = ("name", "scopes", "expires_at", "allowed_ips")


# Secrets -------------------------------------------------------------------------------------------

def secret_hash(prefix: str, secret: str) -> str:
    """The stored form of a secret: keyed (SECRET_KEY) and bound to its prefix, so a database dump alone
    neither reveals nor lets anyone test secrets."""
    return salted_hmac(_HMAC_SALT, f"{prefix}:{secret}", algorithm="sha256").hexdigest()


def _new_prefix() -> str:
    return "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


def _new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def key_string(prefix: str, secret: str) -> str:
    return f"{KEY_PREFIX}{prefix}_{secret}"


def key_parse(raw: str) -> tuple[str, str] | None:
    """`plk_<prefix>_<secret>` → (prefix, secret); None for anything else (length, alphabet, layout)."""
    if not isinstance(raw, str) or len(raw) > 100:
        return None
    match = _KEY.match(raw)
    return (match.group(1), match.group(2)) if match else None


# Reads ---------------------------------------------------------------------------------------------

def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        return None


def apikey_list(*, organization: Organization) -> QuerySet[ApiKey]:
    """Every key of the organization, revoked ones included (with revoked_at): the audit trail stays readable."""
    return ApiKey.objects.filter(organization=organization)


def apikey_get_for_caller(*, key_id: object, user: Any, api_key: ApiKey | None = None) -> ApiKey:
    """A key of one of the caller's live organizations (an API key: its own organization only); 404 for unknown
    ids, malformed ids and other tenants' keys alike."""
    pk = _uuid_or_none(key_id)
    if api_key is not None:
        scope: Any = [api_key.organization_id]
    elif getattr(user, "is_authenticated", False) and isinstance(user, User):
        scope = Membership.objects.filter(user=user, status=MembershipStatus.ACTIVE).values("organization_id")
    else:
        scope = None
    key = None
    if pk is not None and scope is not None:
        key = (ApiKey.objects.select_related("organization")
               .filter(pk=pk, organization_id__in=scope, organization__deleted_at__isnull=True).first())
    if key is None:
        raise ApiKeyNotFound("No such API key.")
    return key


# Validation ----------------------------------------------------------------------------------------

def _clean_name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationError({"name": [ValidationError("A name for the key, e.g. 'CI deploy'.", code="required")]})
    if len(name) > 100:
        raise ValidationError({"name": [ValidationError("At most 100 characters.", code="max_length")]})
    return name


def _clean_scopes(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValidationError({"scopes": [ValidationError("A list of permission codes.", code="invalid")]})
    scopes = list(dict.fromkeys(s.strip() for s in value))
    if not scopes:
        raise ValidationError({"scopes": [ValidationError("At least one permission code, e.g. members:read.",
                                                          code="required")]})
    unknown = catalog.unknown(scopes)
    if unknown:
        raise ValidationError({"scopes": [ValidationError(
            f"Not in the permission catalog (GET /api/v1/rbac/permissions): {', '.join(unknown)}.",
            code="unknown_permission")]})
    return scopes


def _clean_allowed_ips(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ValidationError({"allowed_ips": [ValidationError("A list of addresses or CIDRs.", code="invalid")]})
    if len(value) > MAX_ALLOWED_IPS:
        raise ValidationError({"allowed_ips": [ValidationError(f"At most {MAX_ALLOWED_IPS} networks.",
                                                               code="max_length")]})
    networks = []
    for cidr in value:
        try:
            networks.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
        except ValueError:
            raise ValidationError({"allowed_ips": [ValidationError(
                f"{cidr!r} is not an IP address or CIDR such as 203.0.113.0/24.", code="invalid")]}) from None
    return list(dict.fromkeys(networks))


def _clean_expires_at(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise ValidationError({"expires_at": [ValidationError("A date and time.", code="invalid")]})
    if value <= timezone.now():
        raise ValidationError({"expires_at": [ValidationError("Must be in the future.", code="invalid")]})
    return value


def _caller_of(actor: Any, organization: Organization) -> Caller:
    api_key = getattr(actor, "api_key", None)
    if isinstance(api_key, ApiKey):
        return api_key_caller(key=api_key, organization=organization)
    return user_caller(user=actor, organization=organization)


def _ensure_held(*, actor: Any, organization: Organization, scopes: list[str], facts: RequestFacts | None,
                 what: str) -> None:
    """PrivilegeEscalation (403) naming every scope the actor may not use here and now."""
    escalation_check(caller=_caller_of(actor, organization), permissions=scopes, what=what, facts=facts)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


# Writes --------------------------------------------------------------------------------------------

@transaction.atomic
def apikey_create(*, organization: Organization, actor: Any, name: str, scopes: list[str],
                  expires_at: dt.datetime | None = None, allowed_ips: list[str] | None = None,
                  facts: RequestFacts | None = None) -> tuple[ApiKey, str]:
    """A new key and its plaintext (`plk_<prefix>_<secret>`), which is never stored nor shown again."""
    name = _clean_name(name)
    scopes = _clean_scopes(scopes)
    allowed_ips = _clean_allowed_ips(allowed_ips)
    expires_at = _clean_expires_at(expires_at)
    _ensure_held(actor=actor, organization=organization, scopes=scopes, facts=facts, what="The key's scopes")
    prefix, secret = _new_prefix(), _new_secret()  # 36^12 prefixes: a collision fails loudly (unique), never merges
    key = ApiKey.objects.create(
        organization=organization, name=name, prefix=prefix, secret_hash=secret_hash(prefix, secret),
        scopes=scopes, allowed_ips=allowed_ips, expires_at=expires_at,
        created_by=actor if isinstance(actor, User) else None)
    emit(action="apikey.created", actor=actor, organization_id=organization.pk, target=key,
         metadata={"name": name, "prefix": prefix, "scopes": scopes, "expires_at": _iso(expires_at),
                   "allowed_ips": allowed_ips})
    return key, key_string(prefix, secret)


@transaction.atomic
def apikey_update(*, key: ApiKey, actor: Any, data: dict[str, Any], facts: RequestFacts | None = None) -> ApiKey:
    """Change the fields present in `data`; scopes added must be held by the actor. No change, no event."""
    key = ApiKey.objects.select_for_update().select_related("organization").get(pk=key.pk)
    if key.revoked_at is not None:
        raise ApiKeyRevoked("This API key is revoked; create a new one.")
    cleaners = {"name": _clean_name, "scopes": _clean_scopes, "expires_at": _clean_expires_at,
                "allowed_ips": _clean_allowed_ips}
    values = {field: cleaners[field](data[field]) for field in UPDATABLE_FIELDS if field in data}
    changes = {f: [getattr(key, f), v] for f, v in values.items() if getattr(key, f) != v}
    if not changes:
        return key
    if "scopes" in changes:
        added = [s for s in changes["scopes"][1] if s not in key.scopes]
        _ensure_held(actor=actor, organization=key.organization, scopes=added, facts=facts,
                     what="The key's new scopes")
    for field, (_, new) in changes.items():
        setattr(key, field, new)
    key.save(update_fields=[*changes, "updated_at"])
    emit(action="apikey.updated", actor=actor, organization_id=key.organization_id, target=key,
         changes={f: [_iso(old), _iso(new)] if f == "expires_at" else [old, new] for f, (old, new) in changes.items()})
    return key


@transaction.atomic
def apikey_rotate(*, key: ApiKey, actor: Any, overlap_seconds: int = DEFAULT_OVERLAP_SECONDS,
                  facts: RequestFacts | None = None) -> tuple[ApiKey, str]:
    """A new secret under the same prefix; the current one keeps working for `overlap_seconds` (0: ends now).

    Whoever rotates receives a working secret, so they must hold every scope of the key.
    """
    if not isinstance(overlap_seconds, int) or not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
        raise ValidationError({"overlap_seconds": [ValidationError(
            f"Between 0 and {MAX_OVERLAP_SECONDS} seconds.", code="invalid")]})
    key = ApiKey.objects.select_for_update().select_related("organization").get(pk=key.pk)
    if key.revoked_at is not None:
        raise ApiKeyRevoked("This API key is revoked; create a new one.")
    _ensure_held(actor=actor, organization=key.organization, scopes=list(key.scopes), facts=facts,
                 what="Rotating this key (you receive its secret)")
    now = timezone.now()
    secret = _new_secret()
    if overlap_seconds:
        key.previous_secret_hash = key.secret_hash
        key.previous_valid_until = now + dt.timedelta(seconds=overlap_seconds)
    else:
        key.previous_secret_hash, key.previous_valid_until = "", None
    key.secret_hash = secret_hash(key.prefix, secret)
    key.save(update_fields=["secret_hash", "previous_secret_hash", "previous_valid_until", "updated_at"])
    emit(action="apikey.rotated", actor=actor, organization_id=key.organization_id, target=key,
         metadata={"prefix": key.prefix, "overlap_until": _iso(key.previous_valid_until)})
    return key, key_string(key.prefix, secret)


@transaction.atomic
def apikey_revoke(*, key: ApiKey, actor: Any) -> ApiKey:
    """The key stops working at once (every request looks it up). The row stays, with revoked_at, for the
    audit trail. Revoking twice is a no-op."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.previous_secret_hash, key.previous_valid_until = "", None
    key.save(update_fields=["revoked_at", "previous_secret_hash", "previous_valid_until", "updated_at"])
    emit(action="apikey.revoked", actor=actor, organization_id=key.organization_id, target=key,
         metadata={"prefix": key.prefix})
    return key


# Verification (apps.rbac.authentication) -----------------------------------------------------------

class ApiKeyRefused(InvalidApiKey):
    """Why a presented key was refused; `key` is the row when the prefix named one (its rejection is audited)."""

    def __init__(self, detail: str, *, reason: str, key: ApiKey | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.key = key


def _in_networks(ip: str | None, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip) if ip else None
    except ValueError:
        address = None
    return address is not None and any(address in ipaddress.ip_network(c, strict=False) for c in networks)


def apikey_verify(*, raw: str, ip: str | None) -> ApiKey:
    """The live key `raw` names, or ApiKeyRefused (401). Reads only; the caller records the outcome."""
    parsed = key_parse(raw)
    if parsed is None:
        raise ApiKeyRefused("Malformed API key; expected plk_<prefix>_<secret>.", reason="malformed")
    prefix, secret = parsed
    presented = secret_hash(prefix, secret)
    key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
    if key is None:
        raise ApiKeyRefused("Invalid API key.", reason="unknown_prefix")
    now = timezone.now()
    matches = constant_time_compare(presented, key.secret_hash)
    if not matches and key.previous_secret_hash and key.previous_valid_until and key.previous_valid_until > now:
        matches = constant_time_compare(presented, key.previous_secret_hash)
    if not matches:
        raise ApiKeyRefused("Invalid API key.", reason="wrong_secret", key=key)
    # The holder has the secret from here on: telling them why is no leak.
    if key.revoked_at is not None:
        raise ApiKeyRefused("This API key was revoked.", reason="revoked", key=key)
    if key.expires_at is not None and key.expires_at <= now:
        raise ApiKeyRefused("This API key has expired.", reason="expired", key=key)
    if key.organization.deleted_at is not None:
        raise ApiKeyRefused("This API key's organization was deleted.", reason="organization_deleted", key=key)
    if key.allowed_ips and not _in_networks(ip, key.allowed_ips):
        raise ApiKeyRefused("This API key is not allowed from this address.", reason="ip_not_allowed", key=key)
    return key


def apikey_rejection_record(*, key_id: uuid.UUID, organization_id: uuid.UUID, prefix: str, reason: str) -> bool:
    """Audit `apikey.rejected`, at most once per key per REJECTION_AUDIT_INTERVAL: a flood of bad requests
    cannot fill the audit log. Runs in its own transaction. True if an event was written."""
    if not cache.add(f"rbac:apikey:rejected:{key_id}", 1, timeout=REJECTION_AUDIT_INTERVAL):
        return False
    with transaction.atomic():
        emit(action="apikey.rejected", outcome="failure", organization_id=organization_id,
             target=Target(type="apikey", id=str(key_id)), metadata={"prefix": prefix, "reason": reason})
    return True


def apikey_touch(*, key_id: uuid.UUID, ip: str | None) -> bool:
    """Record the key's use, at most once per LAST_USED_INTERVAL: one conditional UPDATE, no read first."""
    now = timezone.now()
    updated = (ApiKey.objects.filter(pk=key_id)
               .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_INTERVAL))
               .update(last_used_at=now, last_used_ip=ip))
    return bool(updated)
