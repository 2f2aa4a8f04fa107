"""Passkeys end to end through the API, with a software authenticator standing in for the browser."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.accounts.models import User, UserSession
from apps.audit.models import AuditEvent
from apps.mfa import webauthn
from apps.mfa.models import WebAuthnCredential
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in
from tests.mfa.soft_authenticator import NotAllowedError, SoftAuthenticator, b64url, unb64url

pytestmark = pytest.mark.django_db

BASE = "/api/v1/passkeys"
ORIGIN = settings.WEBAUTHN_ORIGIN[0]


# --- helpers ----------------------------------------------------------------------------------------------


def register(client: APIClient, authenticator: SoftAuthenticator, *, name: str | None = None) -> dict[str, Any]:
    options = client.post(f"{BASE}/register/options", format="json")
    assert options.status_code == 200, options.content
    body = {"ceremony_id": options.json()["ceremony_id"],
            "credential": authenticator.create(options.json()["publicKey"])}
    if name is not None:
        body["name"] = name
    response = client.post(f"{BASE}/register/verify", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def auth_options(email: str | None = None) -> dict[str, Any]:
    response = APIClient().post(f"{BASE}/authenticate/options", {"email": email} if email else {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def auth_verify(ceremony_id: str, credential: dict[str, Any]):  # noqa: ANN201
    return APIClient().post(f"{BASE}/authenticate/verify", {"ceremony_id": ceremony_id, "credential": credential},
                            format="json")


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


@pytest.fixture
def alice() -> User:
    return UserFactory(email="alice@example.com")


@pytest.fixture
def alice_client(alice: User) -> APIClient:
    return signed_in(alice.email)


@pytest.fixture
def alice_key(alice_client: APIClient) -> SoftAuthenticator:
    """Alice's security key, already registered."""
    authenticator = SoftAuthenticator(origin=ORIGIN)
    register(alice_client, authenticator)
    return authenticator


# --- registration and sign-in ---------------------------------------------------------------------------


def test_register_options_are_standard_creation_options_bound_to_the_user(alice: User,
                                                                          alice_client: APIClient) -> None:
    response = alice_client.post(f"{BASE}/register/options", format="json")

    assert response.status_code == 200
    body = response.json()
    public_key = body["publicKey"]
    assert body["ceremony_id"] and "challenge" not in body
    assert public_key["rp"] == {"id": settings.WEBAUTHN_RP_ID, "name": settings.WEBAUTHN_RP_NAME}
    assert unb64url(public_key["user"]["id"]) == alice.pk.bytes
    assert public_key["user"]["name"] == "alice@example.com"
    assert len(unb64url(public_key["challenge"])) >= 32
    assert [p["alg"] for p in public_key["pubKeyCredParams"]] == [-7, -8, -257]
    assert public_key["authenticatorSelection"]["residentKey"] == "preferred"
    assert public_key["authenticatorSelection"]["userVerification"] == "preferred"
    assert public_key["attestation"] == "none"
    assert public_key["excludeCredentials"] == []


def test_register_then_sign_in_passwordless_with_email(alice: User, alice_client: APIClient) -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)

    factor = register(alice_client, authenticator, name="My YubiKey")

    stored = WebAuthnCredential.objects.get(user=alice)
    assert factor == {"id": str(stored.pk), "name": "My YubiKey", "created_at": factor["created_at"],
                      "last_used_at": None, "discoverable": True}
    assert bytes(stored.credential_id) == authenticator.credentials[0].credential_id
    assert stored.confirmed and stored.sign_count == 0 and not stored.backed_up
    assert stored.transports == ["internal", "hybrid"]
    assert stored.aaguid == "00000000-0000-0000-0000-000000000000"
    assert [e.metadata for e in events("factor.added")] == [{"type": "webauthn", "factor_id": str(stored.pk)}]

    options = auth_options("ALICE@example.com")
    allowed = options["publicKey"]["allowCredentials"]
    assert [unb64url(c["id"]) for c in allowed] == [authenticator.credentials[0].credential_id]
    assert options["publicKey"]["rpId"] == settings.WEBAUTHN_RP_ID
    assert options["publicKey"]["userVerification"] == "required"
    response = auth_verify(options["ceremony_id"], authenticator.get(options["publicKey"]))

    assert response.status_code == 200, response.content
    assert response.json()["user"]["id"] == str(alice.pk)
    assert response.json()["tokens"]["token_type"] == "Bearer"
    assert UserSession.objects.filter(user=alice).latest("created_at").amr == ["hwk", "user"]
    stored.refresh_from_db()
    assert stored.sign_count == 1 and stored.last_used_at is not None
    assert [e.metadata for e in events("factor.used")] == [{"type": "webauthn", "factor_id": str(stored.pk)}]
    assert events("user.signed_in")[-1].metadata["method"] == "passkey"


def test_discoverable_sign_in_without_email_with_a_synced_passkey(alice: User, alice_client: APIClient) -> None:
    phone = SoftAuthenticator(origin=ORIGIN, backup_eligible=True, backed_up=True)
    register(alice_client, phone)

    options = auth_options()
    assert options["publicKey"]["allowCredentials"] == []
    response = auth_verify(options["ceremony_id"], phone.get(options["publicKey"]))

    assert response.status_code == 200, response.content
    assert response.json()["user"]["email"] == "alice@example.com"
    assert UserSession.objects.filter(user=alice).latest("created_at").amr == ["swk", "user"]
    stored = WebAuthnCredential.objects.get(user=alice)
    assert stored.backed_up and stored.discoverable and stored.name == "Passkey"


def test_second_registration_excludes_existing_credentials(alice_client: APIClient,
                                                           alice_key: SoftAuthenticator) -> None:
    options = alice_client.post(f"{BASE}/register/options", format="json").json()

    excluded = [unb64url(c["id"]) for c in options["publicKey"]["excludeCredentials"]]
    assert excluded == [alice_key.credentials[0].credential_id]
    with pytest.raises(NotAllowedError):
        alice_key.create(options["publicKey"])


def test_registration_needs_a_signed_in_user() -> None:
    response = APIClient().post(f"{BASE}/register/options", format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- attacks on registration ----------------------------------------------------------------------------


@pytest.mark.parametrize(("_case", "create_kwargs"), [
    ("phishing origin", {"origin": "https://evil.example"}),
    ("wrong rp id", {"rp_id": "evil.example"}),
    ("challenge the server never issued", {"challenge": b64url(b"x" * 32)}),
])
def test_registration_refuses_a_forged_answer(_case: str, create_kwargs: dict, alice_client: APIClient) -> None:
    options = alice_client.post(f"{BASE}/register/options", format="json").json()
    credential = SoftAuthenticator(origin=ORIGIN).create(options["publicKey"], **create_kwargs)

    response = alice_client.post(f"{BASE}/register/verify",
                                 {"ceremony_id": options["ceremony_id"], "credential": credential}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"
    assert not WebAuthnCredential.objects.exists()
    assert events("factor.added") == []


def test_registration_refuses_another_users_ceremony(alice_client: APIClient) -> None:
    UserFactory(email="mallory@example.com")
    mallory = signed_in("mallory@example.com")
    options = alice_client.post(f"{BASE}/register/options", format="json").json()
    credential = SoftAuthenticator(origin=ORIGIN).create(options["publicKey"])

    response = mallory.post(f"{BASE}/register/verify",
                            {"ceremony_id": options["ceremony_id"], "credential": credential}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "ceremony_expired"
    assert not WebAuthnCredential.objects.exists()


def test_registration_ceremony_is_single_use(alice_client: APIClient) -> None:
    options = alice_client.post(f"{BASE}/register/options", format="json").json()
    body = {"ceremony_id": options["ceremony_id"],
            "credential": SoftAuthenticator(origin=ORIGIN).create(options["publicKey"])}
    assert alice_client.post(f"{BASE}/register/verify", body, format="json").status_code == 201

    replay = alice_client.post(f"{BASE}/register/verify", body, format="json")

    assert replay.status_code == 400
    assert replay.json()["code"] == "ceremony_expired"
    assert WebAuthnCredential.objects.count() == 1


def test_registration_refuses_an_authentication_ceremony(alice: User, alice_client: APIClient) -> None:
    options = auth_options(alice.email)
    register_options = alice_client.post(f"{BASE}/register/options", format="json").json()
    credential = SoftAuthenticator(origin=ORIGIN).create(register_options["publicKey"])

    response = alice_client.post(f"{BASE}/register/verify",
                                 {"ceremony_id": options["ceremony_id"], "credential": credential}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "ceremony_expired"


def test_registration_refuses_a_malformed_credential_without_crashing(alice_client: APIClient) -> None:
    options = alice_client.post(f"{BASE}/register/options", format="json").json()
    credential = SoftAuthenticator(origin=ORIGIN).create(options["publicKey"])
    credential["response"]["attestationObject"] = b64url(b"\xa1junk")

    response = alice_client.post(f"{BASE}/register/verify",
                                 {"ceremony_id": options["ceremony_id"], "credential": credential}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"


# --- attacks on sign-in ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("_case", "get_kwargs"), [
    ("phishing origin", {"origin": "https://evil.example"}),
    ("wrong rp id", {"rp_id": "evil.example"}),
])
def test_sign_in_refuses_an_answer_made_for_another_site(_case: str, get_kwargs: dict, alice: User,
                                                         alice_key: SoftAuthenticator) -> None:
    options = auth_options(alice.email)
    credential = alice_key.get(options["publicKey"], credential=alice_key.credentials[0], **get_kwargs)

    response = auth_verify(options["ceremony_id"], credential)

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"
    assert not UserSession.objects.filter(user=alice, amr__contains=["hwk"]).exists()
    assert WebAuthnCredential.objects.get().sign_count == 0


def test_sign_in_refuses_the_challenge_of_another_ceremony(alice: User, alice_key: SoftAuthenticator) -> None:
    first, second = auth_options(alice.email), auth_options(alice.email)
    credential = alice_key.get(second["publicKey"])

    response = auth_verify(first["ceremony_id"], credential)

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"


def test_sign_in_refuses_a_ceremony_started_for_another_account(alice: User, alice_key: SoftAuthenticator) -> None:
    UserFactory(email="mallory@example.com")
    mallory_key = SoftAuthenticator(origin=ORIGIN)
    register(signed_in("mallory@example.com"), mallory_key)
    options = auth_options(alice.email)  # alice's ceremony, answered with mallory's own passkey
    credential = mallory_key.get(options["publicKey"], credential=mallory_key.credentials[0])

    response = auth_verify(options["ceremony_id"], credential)

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"
    assert not UserSession.objects.filter(amr__contains=["hwk"]).exists()


def test_sign_in_ceremony_cannot_be_replayed(alice: User, alice_key: SoftAuthenticator) -> None:
    options = auth_options(alice.email)
    credential = alice_key.get(options["publicKey"])
    assert auth_verify(options["ceremony_id"], credential).status_code == 200

    replay = auth_verify(options["ceremony_id"], credential)

    assert replay.status_code == 400
    assert replay.json()["code"] == "ceremony_expired"
    assert UserSession.objects.filter(user=alice, amr=["hwk", "user"]).count() == 1


def test_sign_in_refuses_a_cloned_authenticator_and_audits_it(alice: User, alice_key: SoftAuthenticator) -> None:
    twin = alice_key.clone()  # same private key and counter, as if extracted from the original
    options = auth_options(alice.email)
    assert auth_verify(options["ceremony_id"], alice_key.get(options["publicKey"])).status_code == 200

    options = auth_options(alice.email)
    response = auth_verify(options["ceremony_id"], twin.get(options["publicKey"]))  # counter 1 again

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"
    stored = WebAuthnCredential.objects.get()
    assert stored.sign_count == 1
    failed = events("factor.failed")
    assert [(e.outcome, e.metadata) for e in failed] == [
        ("failure", {"type": "webauthn", "factor_id": str(stored.pk), "reason": "sign_count"})]
    assert UserSession.objects.filter(user=alice, amr=["hwk", "user"]).count() == 1


def test_sign_in_refuses_a_counter_that_goes_backwards(alice: User, alice_key: SoftAuthenticator) -> None:
    WebAuthnCredential.objects.update(sign_count=41)
    alice_key.credentials[0].sign_count = 9
    options = auth_options(alice.email)

    response = auth_verify(options["ceremony_id"], alice_key.get(options["publicKey"]))

    assert response.status_code == 400
    assert WebAuthnCredential.objects.get().sign_count == 41


def test_authenticator_without_a_counter_keeps_working(alice: User, alice_client: APIClient) -> None:
    passkey = SoftAuthenticator(origin=ORIGIN, counter=False)  # e.g. synced passkeys always send 0
    register(alice_client, passkey)

    for _ in range(2):
        options = auth_options(alice.email)
        assert auth_verify(options["ceremony_id"], passkey.get(options["publicKey"])).status_code == 200


@pytest.mark.parametrize(("_case", "part"), [
    ("signature", "signature"),
    ("authenticator data", "authenticatorData"),
    ("client data", "clientDataJSON"),
])
def test_sign_in_refuses_a_tampered_assertion(_case: str, part: str, alice: User,
                                              alice_key: SoftAuthenticator) -> None:
    options = auth_options(alice.email)
    credential = alice_key.get(options["publicKey"])
    raw = bytearray(unb64url(credential["response"][part]))
    if part == "clientDataJSON":
        raw = bytearray(bytes(raw).replace(b'"crossOrigin": false', b'"crossOrigin": true '))
    else:
        raw[-1] ^= 0x01  # last byte of s in the DER signature; last byte of the counter in authData
    credential["response"][part] = b64url(bytes(raw))

    response = auth_verify(options["ceremony_id"], credential)

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"
    assert WebAuthnCredential.objects.get().sign_count == 0
    assert events("factor.failed") == []  # a forged answer never passes for a clone


def test_passwordless_sign_in_requires_user_verification(alice: User, alice_client: APIClient) -> None:
    key_without_pin = SoftAuthenticator(origin=ORIGIN, user_verified=False)
    register(alice_client, key_without_pin)  # fine as a second factor (UV preferred)
    options = auth_options(alice.email)

    response = auth_verify(options["ceremony_id"], key_without_pin.get(options["publicKey"]))

    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"


def test_unknown_email_gets_the_same_shape_and_can_never_succeed(alice_key: SoftAuthenticator) -> None:
    options = auth_options("nobody@example.com")

    assert set(options) == {"ceremony_id", "publicKey"}
    assert options["publicKey"]["allowCredentials"] == []
    assert set(options["publicKey"]) == set(auth_options("alice@example.com")["publicKey"])
    # Even a real, discoverable passkey of someone else cannot complete it.
    response = auth_verify(options["ceremony_id"], alice_key.get(options["publicKey"]))
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_failed"


def test_unknown_ceremony_and_malformed_credential_are_400s(alice: User, alice_key: SoftAuthenticator) -> None:
    options = auth_options(alice.email)
    credential = alice_key.get(options["publicKey"])

    unknown = auth_verify("no-such-ceremony", credential)
    malformed = auth_verify(options["ceremony_id"], {"id": "x", "rawId": "!!", "type": "public-key",
                                                     "response": {}})

    assert (unknown.status_code, unknown.json()["code"]) == (400, "ceremony_expired")
    assert (malformed.status_code, malformed.json()["code"]) == (400, "webauthn_failed")


def test_suspended_user_cannot_sign_in_with_a_passkey(alice: User, alice_key: SoftAuthenticator) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)
    options = auth_options(alice.email)

    response = auth_verify(options["ceremony_id"], alice_key.get(options["publicKey"]))

    assert response.status_code == 403
    assert response.json()["code"] == "account_suspended"


def test_sign_in_verification_is_rate_limited(settings: Any, alice_key: SoftAuthenticator) -> None:
    settings.RATELIMIT_ENABLED = True
    statuses = [auth_verify("no-such-ceremony", {}).status_code for _ in range(11)]

    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429


# --- the service, as the MFA challenge flow calls it ------------------------------------------------------


def test_authentication_verify_for_a_given_user(alice: User, alice_key: SoftAuthenticator) -> None:
    bob = UserFactory(email="bob@example.com")
    ceremony_id, public_key = webauthn.authentication_options(user=alice)
    with pytest.raises(webauthn.CeremonyExpired):
        webauthn.authentication_verify(ceremony_id=ceremony_id, credential=alice_key.get(public_key), user=bob)

    ceremony_id, public_key = webauthn.authentication_options(user=alice)
    passkey = webauthn.authentication_verify(ceremony_id=ceremony_id, credential=alice_key.get(public_key),
                                             user=alice)

    assert passkey.user == alice
    assert webauthn.amr_for(passkey) == ["hwk", "user"]


def test_authentication_verify_refuses_someone_elses_credential_for_a_given_user(
        alice: User, alice_key: SoftAuthenticator) -> None:
    bob = UserFactory(email="bob@example.com")
    ceremony_id, public_key = webauthn.authentication_options()  # discoverable, bound to nobody yet

    with pytest.raises(webauthn.WebAuthnFailed):
        webauthn.authentication_verify(ceremony_id=ceremony_id, credential=alice_key.get(public_key), user=bob)


# --- managing passkeys ------------------------------------------------------------------------------------


def test_list_rename_and_delete_my_passkeys(alice: User, alice_client: APIClient) -> None:
    factor = register(alice_client, SoftAuthenticator(origin=ORIGIN, resident=False))
    assert factor["discoverable"] is False and factor["name"] == "Security key"

    listed = alice_client.get(f"{BASE}/")
    renamed = alice_client.patch(f"{BASE}/{factor['id']}", {"name": "Backup key"}, format="json")

    assert listed.status_code == 200
    assert listed.json() == {"results": [factor], "next_cursor": None}
    assert renamed.status_code == 200 and renamed.json()["name"] == "Backup key"
    assert WebAuthnCredential.objects.get().name == "Backup key"

    deleted = alice_client.delete(f"{BASE}/{factor['id']}")

    assert deleted.status_code == 204
    assert not WebAuthnCredential.objects.exists()
    assert [e.metadata for e in events("factor.removed")] == [
        {"type": "webauthn", "factor_id": factor["id"], "reason": "removed_by_user"}]


def test_delete_needs_recent_authentication(alice: User, alice_client: APIClient,
                                            alice_key: SoftAuthenticator) -> None:
    passkey = WebAuthnCredential.objects.get()
    UserSession.objects.filter(user=alice).update(auth_time="2026-01-01T00:00:00Z")

    response = alice_client.delete(f"{BASE}/{passkey.pk}")

    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    assert events("factor.removed") == []


@pytest.mark.parametrize(("_case", "method", "body"), [
    ("rename", "patch", {"name": "mine now"}),
    ("delete", "delete", None),
])
def test_another_users_passkey_is_404(_case: str, method: str, body: dict | None,
                                      alice_key: SoftAuthenticator) -> None:
    passkey = WebAuthnCredential.objects.get()
    UserFactory(email="mallory@example.com")
    mallory = signed_in("mallory@example.com")

    response = getattr(mallory, method)(f"{BASE}/{passkey.pk}", body, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert WebAuthnCredential.objects.get().name == passkey.name
    assert mallory.get(f"{BASE}/").json()["results"] == []


@pytest.mark.parametrize("passkey_id", ["not-a-uuid", str(uuid.uuid4())], ids=["malformed", "unknown"])
def test_unknown_passkey_is_404(passkey_id: str, alice_client: APIClient) -> None:
    response = alice_client.patch(f"{BASE}/{passkey_id}", {"name": "x"}, format="json")

    assert response.status_code == 404


# --- as the second factor of a password sign-in -------------------------------------------------------------


def test_a_security_key_answers_the_mfa_challenge_of_a_password_sign_in(alice_key: SoftAuthenticator) -> None:
    from tests.accounts.helpers import signin

    first = signin("alice@example.com").json()
    assert first["mfa_required"] is True and "webauthn" in first["methods"]
    options = APIClient().post("/api/v1/mfa/challenge", {"mfa_token": first["mfa_token"], "method": "webauthn"},
                               format="json").json()
    assert options["publicKey"]["allowCredentials"]  # bound to Alice's keys
    response = APIClient().post("/api/v1/mfa/challenge/verify", {
        "mfa_token": first["mfa_token"], "method": "webauthn", "ceremony_id": options["ceremony_id"],
        "credential": alice_key.get(options["publicKey"])}, format="json")
    assert response.status_code == 200, response.content
    assert UserSession.objects.latest("created_at").amr[:2] == ["pwd", "hwk"]


def test_another_users_key_cannot_answer_the_challenge(alice_key: SoftAuthenticator) -> None:
    from tests.accounts.helpers import signin

    mallory_key = SoftAuthenticator(origin=ORIGIN)
    UserFactory(email="mallory@example.com")
    register(signed_in("mallory@example.com"), mallory_key)
    token = signin("alice@example.com").json()["mfa_token"]
    options = APIClient().post("/api/v1/mfa/challenge", {"mfa_token": token, "method": "webauthn"},
                               format="json").json()
    forged = mallory_key.get({**options["publicKey"], "allowCredentials": []})
    response = APIClient().post("/api/v1/mfa/challenge/verify", {
        "mfa_token": token, "method": "webauthn", "ceremony_id": options["ceremony_id"], "credential": forged},
        format="json")
    assert response.status_code == 400
    assert not UserSession.objects.filter(user__email="alice@example.com", amr__contains=["mfa"]).exists()
