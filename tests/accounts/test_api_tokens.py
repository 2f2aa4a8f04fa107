"""Sign-in, access tokens, refresh rotation and revocation through the public API."""

import base64
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import RefreshToken, UserSession
from apps.audit.models import AuditEvent
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def signin(client: APIClient, email: str, password: str = PASSWORD, **extra):  # noqa: ANN003, ANN201
    return client.post("/api/v1/auth/signin", {"email": email, "password": password}, format="json", **extra)


@pytest.fixture
def alice():  # noqa: ANN201
    return UserFactory(email="alice@example.com")


@pytest.fixture
def tokens(api_client: APIClient, alice) -> dict:  # noqa: ANN001
    response = signin(api_client, "alice@example.com")
    assert response.status_code == 200, response.content
    return response.json()["tokens"]


def test_signin_returns_user_and_token_pair(api_client: APIClient, alice) -> None:  # noqa: ANN001
    response = signin(api_client, "ALICE@example.com", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    body = response.json()
    assert response.status_code == 200
    assert body["user"]["id"] == str(alice.pk) and body["user"]["email"] == "alice@example.com"
    assert body["tokens"]["token_type"] == "Bearer" and body["tokens"]["expires_in"] == 900
    session = UserSession.objects.get(user=alice)
    assert session.amr == ["pwd"] and session.device["browser"] == "Firefox"
    event = AuditEvent.objects.get(action="user.signed_in")
    assert event.metadata == {"method": "password", "session_id": str(session.pk)}


def test_login_alias_works(api_client: APIClient, alice) -> None:  # noqa: ANN001
    response = api_client.post("/api/v1/auth/login", {"email": "alice@example.com", "password": PASSWORD},
                               format="json")
    assert response.status_code == 200


def test_access_token_has_the_contract_claims(tokens: dict, alice) -> None:  # noqa: ANN001
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["sub"] == str(alice.pk) and claims["aud"] == "plinto" and claims["iss"] == "http://localhost:8000"
    assert claims["amr"] == ["pwd"] and claims["exp"] - claims["iat"] == 900
    assert {"sid", "jti", "auth_time"} <= set(claims)


def test_access_token_verifies_against_the_published_jwks(tokens: dict, api_client: APIClient) -> None:
    keys = api_client.get("/.well-known/jwks.json").json()["keys"]
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    assert "d" not in jwk  # never the private part
    key = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(jwk))
    claims = jwt.decode(tokens["access_token"], key, algorithms=["ES256"], audience="plinto")
    assert claims["sid"]


def test_me_with_access_token(tokens: dict, alice) -> None:  # noqa: ANN001
    response = bearer(tokens["access_token"]).get("/api/v1/auth/me")
    assert response.status_code == 200
    assert response.json()["id"] == str(alice.pk)
    assert response.json()["email_verified"] is False


@pytest.mark.parametrize("_case", ["unknown email", "wrong password"])
def test_wrong_password_and_unknown_email_answer_identically(api_client: APIClient, alice, _case: str) -> None:  # noqa: ANN001
    email, password = ("nobody@example.com", PASSWORD) if _case == "unknown email" else ("alice@example.com", "nope")
    response = signin(api_client, email, password)
    body = response.json()
    assert response.status_code == 401
    assert (body["code"], body["detail"]) == ("invalid_credentials", "E-mail or password is incorrect.")
    assert AuditEvent.objects.filter(action="user.signin_failed").count() == 1


def test_signed_out_session_rejects_its_access_token_at_once(tokens: dict) -> None:
    client = bearer(tokens["access_token"])
    assert client.get("/api/v1/auth/me").status_code == 200
    assert client.post("/api/v1/auth/signout", {}, format="json").status_code == 204
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert APIClient().post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]},
                            format="json").status_code == 401


def test_logout_all_ends_every_session_of_the_user(api_client: APIClient, alice) -> None:  # noqa: ANN001
    phone = signin(api_client, "alice@example.com").json()["tokens"]
    laptop = signin(api_client, "alice@example.com").json()["tokens"]
    response = bearer(laptop["access_token"]).post("/api/v1/auth/logout", {"all": True}, format="json")
    assert response.status_code == 204
    assert [bearer(t["access_token"]).get("/api/v1/auth/me").status_code for t in (phone, laptop)] == [401, 401]
    assert AuditEvent.objects.filter(action="session.revoked").count() == 2


def test_revoking_a_session_from_another_device_ends_it_at_once(api_client: APIClient, alice) -> None:  # noqa: ANN001
    laptop = signin(api_client, "alice@example.com").json()["tokens"]
    phone = signin(api_client, "alice@example.com").json()["tokens"]
    phone_sid = jwt.decode(phone["access_token"], options={"verify_signature": False})["sid"]
    laptop_client = bearer(laptop["access_token"])

    listing = laptop_client.get("/api/v1/sessions").json()["results"]
    assert {s["id"] for s in listing} == {phone_sid, jwt.decode(laptop["access_token"],
                                                                 options={"verify_signature": False})["sid"]}
    assert [s["is_current"] for s in listing if s["id"] == phone_sid] == [False]

    assert laptop_client.delete(f"/api/v1/sessions/{phone_sid}").status_code == 204
    assert bearer(phone["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert laptop_client.get("/api/v1/auth/me").status_code == 200
    assert AuditEvent.objects.filter(action="session.revoked", target_id=phone_sid).exists()


def test_another_users_session_is_404(api_client: APIClient, alice) -> None:  # noqa: ANN001
    UserFactory(email="bob@example.com")
    bob = signin(api_client, "bob@example.com").json()["tokens"]
    alice_tokens = signin(api_client, "alice@example.com").json()["tokens"]
    bob_sid = jwt.decode(bob["access_token"], options={"verify_signature": False})["sid"]
    response = bearer(alice_tokens["access_token"]).delete(f"/api/v1/sessions/{bob_sid}")
    assert response.status_code == 404
    assert bearer(bob["access_token"]).get("/api/v1/auth/me").status_code == 200


def test_delete_all_sessions_keeps_the_current_one(api_client: APIClient, alice) -> None:  # noqa: ANN001
    others = [signin(api_client, "alice@example.com").json()["tokens"] for _ in range(2)]
    mine = signin(api_client, "alice@example.com").json()["tokens"]
    assert bearer(mine["access_token"]).delete("/api/v1/sessions").json() == {"revoked": 2}
    assert [bearer(t["access_token"]).get("/api/v1/auth/me").status_code for t in others] == [401, 401]
    assert bearer(mine["access_token"]).get("/api/v1/auth/me").status_code == 200


def test_refresh_rotates_the_token(tokens: dict) -> None:
    response = APIClient().post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    new = response.json()["tokens"]
    assert response.status_code == 200
    assert new["refresh_token"] != tokens["refresh_token"]
    assert bearer(new["access_token"]).get("/api/v1/auth/me").status_code == 200
    assert not RefreshToken.objects.filter(token_hash=tokens["refresh_token"]).exists()  # stored hashed


def test_reusing_a_rotated_refresh_token_revokes_the_session(tokens: dict) -> None:
    client = APIClient()
    new = client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]},
                      format="json").json()["tokens"]

    replay = client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")

    assert replay.status_code == 401 and replay.json()["code"] == "refresh_token_reused"
    # the whole family is dead: the legitimate successor and its access token too
    assert client.post("/api/v1/auth/refresh", {"refresh_token": new["refresh_token"]},
                       format="json").status_code == 401
    assert bearer(new["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert AuditEvent.objects.filter(action="session.refresh_reused").count() == 1
    assert UserSession.objects.get().revoke_reason == "refresh_token_reused"


def _refresh(token: str):  # noqa: ANN202
    return APIClient().post("/api/v1/auth/refresh", {"refresh_token": token}, format="json")


def test_grace_period_allows_one_replay_of_the_previous_token_only(tokens: dict, settings) -> None:  # noqa: ANN001
    settings.REFRESH_REUSE_GRACE_SECONDS = 30
    _refresh(tokens["refresh_token"])  # its answer is lost on the way to the client
    retry = _refresh(tokens["refresh_token"])
    assert retry.status_code == 200
    assert bearer(retry.json()["tokens"]["access_token"]).get("/api/v1/auth/me").status_code == 200
    assert _refresh(tokens["refresh_token"]).json()["code"] == "refresh_token_reused"  # once only


def test_grace_replay_retires_the_lost_successor(tokens: dict, settings) -> None:  # noqa: ANN001
    settings.REFRESH_REUSE_GRACE_SECONDS = 30
    lost = _refresh(tokens["refresh_token"]).json()["tokens"]
    assert _refresh(tokens["refresh_token"]).status_code == 200
    # only someone who intercepted the lost answer can hold it: treat it as theft
    assert _refresh(lost["refresh_token"]).json()["code"] == "refresh_token_reused"
    assert UserSession.objects.get().revoked_at is not None


def test_without_grace_an_immediate_replay_is_reuse(tokens: dict) -> None:
    assert _refresh(tokens["refresh_token"]).status_code == 200
    assert _refresh(tokens["refresh_token"]).json()["code"] == "refresh_token_reused"


def test_unknown_refresh_token_is_401(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/auth/refresh", {"refresh_token": "x" * 43}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "invalid_refresh_token")


def test_expired_refresh_token_is_refused(tokens: dict) -> None:
    RefreshToken.objects.update(expires_at="2020-01-01T00:00:00Z")
    assert APIClient().post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]},
                            format="json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_racing_with_one_token_do_not_both_succeed() -> None:
    UserFactory(email="racer@example.com")
    token = signin(APIClient(), "racer@example.com").json()["tokens"]["refresh_token"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def refresh() -> None:
        try:
            barrier.wait()
            statuses.append(APIClient().post("/api/v1/auth/refresh", {"refresh_token": token},
                                             format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 401]
    assert UserSession.objects.get().revoked_at is not None  # the loser looked like a replay


def _forge(claims: dict, header: dict, key: bytes | str = b"", algorithm: str = "none") -> str:
    if algorithm == "none":
        encode = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        return f"{encode(header)}.{encode(claims)}."
    return jwt.encode(claims, key, algorithm=algorithm, headers=header)


def _claims(tokens: dict) -> tuple[dict, dict]:
    return (jwt.decode(tokens["access_token"], options={"verify_signature": False}),
            jwt.get_unverified_header(tokens["access_token"]))


@pytest.mark.parametrize("_case", ["alg none", "HS256 with the public key", "expired", "wrong audience",
                                   "unknown kid", "tampered payload", "wrong issuer"])
def test_tampered_tokens_are_refused(tokens: dict, api_client: APIClient, _case: str) -> None:
    claims, header = _claims(tokens)
    if _case == "alg none":
        forged = _forge(claims, {**header, "alg": "none"})
    elif _case == "HS256 with the public key":
        jwk = api_client.get("/.well-known/jwks.json").json()["keys"][0]
        public_pem = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        forged = _hs256(claims, header["kid"], public_pem)
    elif _case == "tampered payload":
        head, _, sig = tokens["access_token"].split(".")
        body = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "00000000-0000-4000-8000-000000000000"})
                                        .encode()).rstrip(b"=").decode()
        forged = f"{head}.{body}.{sig}"
    else:
        from cryptography.hazmat.primitives.asymmetric import ec

        other = ec.generate_private_key(ec.SECP256R1())
        changes = {"expired": {"exp": int(time.time()) - 120, "iat": int(time.time()) - 1200},
                   "wrong audience": {"aud": "someone-else"}, "wrong issuer": {"iss": "https://evil.example"},
                   "unknown kid": {}}[_case]
        if _case == "unknown kid":
            forged = jwt.encode(claims, other, algorithm="ES256", headers={"kid": "not-ours"})
        else:
            forged = _resign(claims | changes, header["kid"])
    response = bearer(forged).get("/api/v1/auth/me")
    assert response.status_code == 401, _case
    assert response.json()["code"] == "authentication_failed"


def _hs256(claims: dict, kid: str, secret: bytes) -> str:
    """PyJWT refuses PEM keys as HMAC secrets, so build the classic confusion attack by hand."""
    import hashlib
    import hmac

    encode = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    signing_input = f"{encode({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}.{encode(claims)}"
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    return f"{signing_input}.{signature.rstrip(b'=').decode()}"


def _resign(claims: dict, kid: str) -> str:
    """Sign with the real current key, as Plinto would, but with altered claims."""
    from apps.accounts.models import SigningKey
    from apps.accounts.services.tokens import _private_key

    key = SigningKey.objects.get(kid=kid)
    return jwt.encode(claims, _private_key(key.kid, key.private_key_pem), algorithm="ES256", headers={"kid": kid})


def test_rotate_signing_key_keeps_old_tokens_valid_and_signs_with_the_new_key(tokens: dict, api_client) -> None:  # noqa: ANN001
    from django.core.management import call_command

    old_kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    call_command("rotate_signing_key")
    published = {k["kid"] for k in api_client.get("/.well-known/jwks.json").json()["keys"]}
    new = signin(api_client, "alice@example.com").json()["tokens"]
    new_kid = jwt.get_unverified_header(new["access_token"])["kid"]
    assert new_kid != old_kid and {old_kid, new_kid} <= published
    assert bearer(tokens["access_token"]).get("/api/v1/auth/me").status_code == 200


def test_signing_keys_are_encrypted_at_rest(tokens: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key_pem FROM accounts_signingkey")
        stored = cursor.fetchone()[0]
    assert "PRIVATE KEY" not in stored


def test_openid_configuration_lists_only_what_exists(api_client: APIClient) -> None:
    config = api_client.get("/.well-known/openid-configuration").json()
    assert config["jwks_uri"].endswith("/.well-known/jwks.json")
    assert "authorization_endpoint" not in config and "userinfo_endpoint" not in config
