"""Helpers shared by the accounts API tests: sign in through the public API and call it with a token."""

from rest_framework.response import Response
from rest_framework.test import APIClient

PASSWORD = "correct horse battery staple"  # UserFactory's password


def signin(email: str, password: str = PASSWORD, **extra: str) -> Response:
    """POST /api/v1/auth/signin from a fresh client; `extra` are request META (REMOTE_ADDR, user agent…)."""
    return APIClient().post("/api/v1/auth/signin", {"email": email, "password": password}, format="json", **extra)


def bearer(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def signed_in(email: str, password: str = PASSWORD) -> APIClient:
    """A client carrying a fresh access token of `email`."""
    response = signin(email, password)
    assert response.status_code == 200, response.content
    return bearer(response.json()["tokens"]["access_token"])
