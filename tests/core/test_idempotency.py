"""Idempotency-Key on creating POSTs: a replay returns the first response and creates nothing new."""

import pytest

from apps.orgs.models import Organization
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():  # noqa: ANN201
    UserFactory(email="idem@example.com")
    return signed_in("idem@example.com")


def create(client, key: str, slug: str = "idem-org"):  # noqa: ANN001, ANN201
    return client.post("/api/v1/organizations", {"name": "Idem", "slug": slug}, format="json",
                       HTTP_IDEMPOTENCY_KEY=key)


def test_a_replay_returns_the_first_response_and_creates_nothing(client) -> None:  # noqa: ANN001
    first = create(client, "k-1")
    again = create(client, "k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Organization.objects.count() == 1


def test_another_key_is_another_request(client) -> None:  # noqa: ANN001
    create(client, "k-1")
    assert create(client, "k-2").json()["code"] == "slug_taken"  # really executed, not replayed


def test_the_same_key_with_another_body_is_refused(client) -> None:  # noqa: ANN001
    create(client, "k-1")
    response = create(client, "k-1", slug="other-slug")
    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")
    assert Organization.objects.count() == 1


def test_keys_are_scoped_to_the_caller(client) -> None:  # noqa: ANN001
    create(client, "shared")
    UserFactory(email="other@example.com")
    other = create(signed_in("other@example.com"), "shared", slug="other-org")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert Organization.objects.count() == 2


def test_a_malformed_key_is_a_problem(client) -> None:  # noqa: ANN001
    assert create(client, "has spaces").json()["code"] == "invalid_idempotency_key"


def test_answers_with_credentials_are_never_stored_or_replayed() -> None:
    from rest_framework.test import APIClient

    UserFactory(email="tok@example.com")
    body = {"email": "tok@example.com", "password": "correct horse battery staple"}
    first = APIClient().post("/api/v1/auth/signin", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    second = APIClient().post("/api/v1/auth/signin", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.json()["tokens"]["refresh_token"] != second.json()["tokens"]["refresh_token"]
    assert "Idempotent-Replayed" not in second
