import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.contrib.sites.models import Site
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in

pytestmark = pytest.mark.django_db


def test_providers_lists_only_configured_ones(api_client: APIClient) -> None:
    assert api_client.get("/api/v1/auth/oauth/providers").json() == []
    app = SocialApp.objects.create(provider="github", name="GitHub", client_id="id", secret="s")
    app.sites.add(Site.objects.get_current())
    assert api_client.get("/api/v1/auth/oauth/providers").json() == [{"id": "github", "name": "GitHub"}]


def test_linked_accounts_are_listed_and_can_be_unlinked() -> None:
    user = UserFactory(email="soc@example.com")
    SocialAccount.objects.create(user=user, provider="github", uid="42")
    client = signed_in("soc@example.com")
    assert [a["provider"] for a in client.get("/api/v1/auth/oauth/accounts").json()] == ["github"]
    assert client.delete("/api/v1/auth/oauth/accounts/github").status_code == 204
    assert not SocialAccount.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="user.social_unlinked").count() == 1


def test_unlinking_the_last_way_to_sign_in_is_refused() -> None:
    user = UserFactory(email="only-social@example.com")
    SocialAccount.objects.create(user=user, provider="google", uid="7")
    client = signed_in("only-social@example.com")
    user.set_unusable_password()
    user.save()
    response = client.delete("/api/v1/auth/oauth/accounts/google")
    assert (response.status_code, response.json()["code"]) == (409, "last_sign_in_method")
    assert SocialAccount.objects.filter(user=user).exists()


def test_unlinking_another_users_account_is_404() -> None:
    other = UserFactory(email="other@example.com")
    SocialAccount.objects.create(user=other, provider="github", uid="9")
    UserFactory(email="me@example.com")
    assert signed_in("me@example.com").delete("/api/v1/auth/oauth/accounts/github").status_code == 404
    assert SocialAccount.objects.filter(user=other).exists()
