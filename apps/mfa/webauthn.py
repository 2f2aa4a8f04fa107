"""WebAuthn ceremonies (passkeys and security keys) on py_webauthn.

Every ceremony starts on the server: `*_options` draws a random challenge and keeps it in the cache
for 5 minutes under a random ceremony id, with the ceremony's kind and the user it is bound to (or
none, for a discoverable sign-in). `*_verify` pops the ceremony (single use, whatever the outcome),
so the client never supplies a challenge and no answer can be replayed.

`registration_*` enrol a credential for a signed-in user; `authentication_*` serve both the
passwordless sign-in (apps.mfa.apis_passkeys) and the second-factor step of the MFA challenge.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from apps.accounts.models import User
from apps.audit.services import emit
from apps.core.errors import ApplicationError
from apps.mfa.errors import FactorNotFound
from apps.mfa.models import FactorType, WebAuthnCredential
from apps.mfa.services.factors import factor_record_added, factor_record_removed

logger = logging.getLogger(__name__)

CEREMONY_TTL_SECONDS = 5 * 60
CEREMONY_TIMEOUT_MS = CEREMONY_TTL_SECONDS * 1000  # the browser's hint; the cache entry is what counts
SUPPORTED_ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,  # ES256
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,  # RS256
]
REGISTRATION = "registration"
AUTHENTICATION = "authentication"
_KEY = "webauthn:ceremony:{}"
_NOBODY = "-"  # bound to no account: no credential can ever complete the ceremony


class WebAuthnFailed(ApplicationError):
    status, code, title = 400, "webauthn_failed", "Passkey verification failed"


class CeremonyExpired(ApplicationError):
    status, code, title = 400, "ceremony_expired", "Unknown or expired ceremony"


@dataclass(frozen=True)
class _Ceremony:
    kind: str
    challenge: bytes
    user_id: str | None  # a user's UUID, _NOBODY, or None for a discoverable sign-in


# --- ceremonies ---------------------------------------------------------------------------------------


def _ceremony_start(*, kind: str, challenge: bytes, user_id: str | None) -> str:
    ceremony_id = secrets.token_urlsafe(32)
    cache.set(_KEY.format(ceremony_id), {"kind": kind, "challenge": challenge, "user_id": user_id},
              timeout=CEREMONY_TTL_SECONDS)
    return ceremony_id


def _ceremony_pop(*, ceremony_id: str, kind: str) -> _Ceremony:
    """Take the ceremony out of the cache; only the request that deletes it may use it (no race)."""
    key = _KEY.format(ceremony_id)
    stored = cache.get(key)
    if not isinstance(stored, dict) or not cache.delete(key):
        raise CeremonyExpired("This ceremony is unknown, expired or already used; start again.")
    if stored.get("kind") != kind:
        raise CeremonyExpired("This ceremony is of another kind; start again.")
    return _Ceremony(kind=stored["kind"], challenge=stored["challenge"], user_id=stored.get("user_id"))


def _origins() -> list[str]:
    origin = settings.WEBAUTHN_ORIGIN
    return [origin] if isinstance(origin, str) else list(origin)


def _transports(values: list[str]) -> list[AuthenticatorTransport]:
    known = {t.value for t in AuthenticatorTransport}
    return [AuthenticatorTransport(v) for v in values if v in known]


def _descriptors(credentials: QuerySet[WebAuthnCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=bytes(c.credential_id), transports=_transports(c.transports) or None)
            for c in credentials]


# --- registration ------------------------------------------------------------------------------------


def registration_options(*, user: User) -> tuple[str, dict[str, Any]]:
    """Start enrolling a passkey: (ceremony_id, PublicKeyCredentialCreationOptions JSON)."""
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_id=user.pk.bytes,
        user_name=user.email,
        user_display_name=user.display_name or user.get_full_name() or user.email,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(passkey_list(user=user)),
        supported_pub_key_algs=SUPPORTED_ALGORITHMS,
    )
    ceremony_id = _ceremony_start(kind=REGISTRATION, challenge=options.challenge, user_id=str(user.pk))
    public_key = options_to_json_dict(options)
    public_key["extensions"] = {"credProps": True}  # tells us whether the credential is discoverable
    return ceremony_id, public_key


def _discoverable(credential: dict[str, Any], device_type: CredentialDeviceType) -> bool:
    """credProps.rk when the client reports it; else a backup-eligible (synced) credential is a passkey."""
    results = credential.get("clientExtensionResults")
    props = results.get("credProps") if isinstance(results, dict) else None
    if isinstance(props, dict) and isinstance(props.get("rk"), bool):
        return props["rk"]
    return device_type == CredentialDeviceType.MULTI_DEVICE


def registration_verify(*, user: User, ceremony_id: str, credential: dict[str, Any],
                        name: str | None) -> WebAuthnCredential:
    """Check the authenticator's answer to `registration_options` and store the new credential."""
    ceremony = _ceremony_pop(ceremony_id=ceremony_id, kind=REGISTRATION)
    if ceremony.user_id != str(user.pk):
        raise CeremonyExpired("This ceremony was not started by you; start again.")
    try:
        parsed: RegistrationCredential = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=ceremony.challenge,
            expected_origin=_origins(),
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            require_user_verification=False,
            supported_pub_key_algs=SUPPORTED_ALGORITHMS,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        logger.info("webauthn registration refused: %s", exc)
        raise WebAuthnFailed("The passkey's answer could not be verified.") from None

    discoverable = _discoverable(credential, verified.credential_device_type)
    passkey = WebAuthnCredential(
        user=user,
        name=(name or "").strip() or ("Passkey" if discoverable else "Security key"),
        confirmed=True,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t.value for t in parsed.response.transports or []],
        aaguid=verified.aaguid,
        discoverable=discoverable,
        backed_up=verified.credential_backed_up,
    )
    passkey.full_clean(exclude=["credential_id"])  # uniqueness is the constraint's job, below
    try:
        with transaction.atomic():
            passkey.save(force_insert=True)
            factor_record_added(passkey)
    except IntegrityError:
        raise WebAuthnFailed("This authenticator is already registered.") from None
    return passkey


# --- authentication ------------------------------------------------------------------------------------


def authentication_options(*, user: User | None = None,
                           user_verification: str = UserVerificationRequirement.PREFERRED
                           ) -> tuple[str, dict[str, Any]]:
    """Start a sign-in: with a user, their credentials are allowed; without, any discoverable passkey."""
    allowed = _descriptors(passkey_list(user=user)) if user is not None else []
    return _authentication_start(user_id=str(user.pk) if user is not None else None, allowed=allowed,
                                 user_verification=UserVerificationRequirement(user_verification))


def authentication_options_for_email(*, email: str,
                                     user_verification: str = UserVerificationRequirement.PREFERRED
                                     ) -> tuple[str, dict[str, Any]]:
    """Options for the account behind `email`. An unknown address answers the same shape (an empty
    allowCredentials list, like an account without passkeys) with a ceremony no credential can complete."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is not None:
        return authentication_options(user=user, user_verification=user_verification)
    return _authentication_start(user_id=_NOBODY, allowed=[],
                                 user_verification=UserVerificationRequirement(user_verification))


def _authentication_start(*, user_id: str | None, allowed: list[PublicKeyCredentialDescriptor],
                          user_verification: UserVerificationRequirement) -> tuple[str, dict[str, Any]]:
    options = generate_authentication_options(rp_id=settings.WEBAUTHN_RP_ID, timeout=CEREMONY_TIMEOUT_MS,
                                              allow_credentials=allowed, user_verification=user_verification)
    ceremony_id = _ceremony_start(kind=AUTHENTICATION, challenge=options.challenge, user_id=user_id)
    return ceremony_id, options_to_json_dict(options)


def authentication_verify(*, ceremony_id: str, credential: dict[str, Any], user: User | None = None,
                          require_user_verification: bool = False) -> WebAuthnCredential:
    """Check an assertion against the ceremony's challenge and the stored public key.

    The credential must belong to the ceremony's user (and to `user` when given). A valid signature
    whose counter does not move forward means a cloned authenticator: audited (`factor.failed`,
    reason `sign_count`, committed unless the caller holds a transaction) and refused.
    `require_user_verification` (passwordless sign-in) refuses an assertion without the UV flag.
    """
    ceremony = _ceremony_pop(ceremony_id=ceremony_id, kind=AUTHENTICATION)
    if user is not None and ceremony.user_id is not None and ceremony.user_id != str(user.pk):
        raise CeremonyExpired("This ceremony was started for another account; start again.")
    try:
        parsed: AuthenticationCredential = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, TypeError) as exc:
        logger.info("webauthn assertion malformed: %s", exc)
        raise WebAuthnFailed("The passkey's answer is malformed.") from None

    with transaction.atomic():
        stored = (WebAuthnCredential.objects.select_for_update().select_related("user")
                  .filter(credential_id=parsed.raw_id, confirmed=True).first())
        owner = str(user.pk) if user is not None else ceremony.user_id
        if stored is None or ceremony.user_id == _NOBODY or (owner is not None and str(stored.user_id) != owner):
            logger.info("webauthn assertion refused: unknown credential or not the ceremony's account")
            raise WebAuthnFailed("This passkey is not registered for this account.")
        handle = parsed.response.user_handle
        if handle is not None and handle != stored.user.pk.bytes:
            logger.info("webauthn assertion refused: user handle does not match the credential's owner")
            raise WebAuthnFailed("This passkey is not registered for this account.")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=ceremony.challenge,
                expected_origin=_origins(),
                expected_rp_id=settings.WEBAUTHN_RP_ID,
                credential_public_key=bytes(stored.public_key),
                # 0 turns off py_webauthn's own counter check, which runs before the signature is
                # checked; ours below runs after it, so a forged answer cannot raise a clone alarm.
                credential_current_sign_count=0,
                require_user_verification=require_user_verification,
            )
        except (WebAuthnException, ValueError, TypeError) as exc:
            logger.info("webauthn assertion refused for credential %s: %s", stored.pk, exc)
            raise WebAuthnFailed("The passkey's answer could not be verified.") from None

        cloned = stored.sign_count > 0 and verified.new_sign_count <= stored.sign_count
        if cloned:
            emit(action="factor.failed", actor=stored.user, target=stored.user, outcome="failure",
                 metadata={"type": FactorType.WEBAUTHN, "factor_id": str(stored.pk), "reason": "sign_count"})
        else:
            stored.sign_count = verified.new_sign_count
            stored.backed_up = verified.credential_backed_up
            stored.last_used_at = timezone.now()
            stored.save(update_fields=["sign_count", "backed_up", "last_used_at", "updated_at"])
            emit(action="factor.used", actor=stored.user, target=stored.user,
                 metadata={"type": FactorType.WEBAUTHN, "factor_id": str(stored.pk)})
    if cloned:
        logger.warning("webauthn credential %s: sign count went from %s to %s (cloned authenticator?)",
                       stored.pk, stored.sign_count, verified.new_sign_count)
        raise WebAuthnFailed("This authenticator's signature counter went backwards; it may have been cloned.")
    return stored


def amr_for(credential: WebAuthnCredential) -> list[str]:
    """RFC 8176 methods: a synced passkey is a software-secured key (`swk`), any other a hardware-bound
    one (`hwk`); `user` because every accepted assertion passed a user-presence test (UP flag)."""
    return ["swk" if credential.backed_up else "hwk", "user"]


# --- the user's passkeys ---------------------------------------------------------------------------------


def passkey_list(*, user: User) -> QuerySet[WebAuthnCredential]:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at")


def passkey_get(*, user: User, passkey_id: str | uuid.UUID) -> WebAuthnCredential:
    """One of the user's passkeys; someone else's, or none, answers the same 404."""
    try:
        passkey = passkey_list(user=user).filter(pk=passkey_id).first()
    except ValidationError:  # not a UUID
        passkey = None
    if passkey is None:
        raise FactorNotFound("No such passkey.")
    return passkey


@transaction.atomic
def passkey_rename(*, user: User, passkey_id: str | uuid.UUID, name: str) -> WebAuthnCredential:
    passkey = passkey_get(user=user, passkey_id=passkey_id)
    passkey.name = name.strip()
    passkey.full_clean(exclude=["credential_id"])
    passkey.save(update_fields=["name", "updated_at"])
    return passkey


@transaction.atomic
def passkey_remove(*, user: User, passkey_id: str | uuid.UUID, actor: User,
                   reason: str = "removed_by_user") -> None:
    passkey = passkey_get(user=user, passkey_id=passkey_id)
    factor_id = str(passkey.pk)
    passkey.delete()
    factor_record_removed(user=user, factor_type=FactorType.WEBAUTHN, factor_id=factor_id, actor=actor, reason=reason)
