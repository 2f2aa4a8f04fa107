"""The server-rendered page e-mailed invitation links land on (/invitations/accept/?token=…)."""

import re
from urllib.parse import quote, urlencode

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.orgs.models import Invitation, InvitationStatus, Membership
from tests.accounts.factories import UserFactory
from tests.orgs.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's password
PAGE = "/invitations/accept/?token=t1"
NEXT = urlencode({"next": PAGE})


@pytest.fixture
def invitation() -> Invitation:
    owner = MembershipFactory(owner=True, organization__name="Acme Rockets", user__first_name="Olga",
                              user__last_name="Owner")
    return InvitationFactory(organization=owner.organization, invited_by=owner.user, email="guest@example.com",
                             role="admin", token="t1", message="See you <b>soon</b>")


def client_of(user: User) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def test_anonymous_visitor_sees_the_invitation_and_is_offered_to_sign_in_or_up(invitation: Invitation) -> None:
    response = Client().get(PAGE)

    assert response.status_code == 200
    assert "allauth/layouts/entrance.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "Acme Rockets" in html and "Olga Owner" in html and "<strong>admin</strong>" in html
    assert "guest@example.com" in html
    assert "See you &lt;b&gt;soon&lt;/b&gt;" in html  # the inviter's message, escaped
    assert f'href="/accounts/login/?{NEXT}"' in html and f'href="/accounts/signup/?{NEXT}"' in html
    assert "<form" not in html.split('class="card"')[1]  # no accept button for anonymous visitors


def test_sign_in_from_the_page_comes_back_to_it(invitation: Invitation) -> None:
    UserFactory(email="guest@example.com")
    client = Client()

    response = client.post(f"/accounts/login/?{NEXT}", {"login": "guest@example.com", "password": PASSWORD})

    assert (response.status_code, response["Location"]) == (302, PAGE)


def test_sign_up_from_the_page_comes_back_to_it(invitation: Invitation) -> None:
    client = Client()

    response = client.post(f"/accounts/signup/?{NEXT}", {
        "email": "guest@example.com", "password1": "a long invitation passphrase 7",
        "password2": "a long invitation passphrase 7"})

    assert (response.status_code, response["Location"]) == (302, PAGE)
    assert "Accept and join Acme Rockets" in client.get(PAGE).content.decode()


def test_invitee_signed_in_accepts_with_a_post_and_lands_on_security(invitation: Invitation) -> None:
    invitee = UserFactory(email="Guest@Example.com")
    client = client_of(invitee)

    page = client.get(PAGE).content.decode()
    assert re.search(r'<form method="post" action="/invitations/accept/"', page)
    assert 'name="csrfmiddlewaretoken"' in page and '<input type="hidden" name="token" value="t1">' in page
    assert not Membership.objects.filter(user=invitee).exists()  # GET accepts nothing

    response = client.post("/invitations/accept/", {"token": "t1"})

    assert (response.status_code, response["Location"]) == (302, "/accounts/security/")
    assert Membership.objects.get(user=invitee, organization=invitation.organization).role.name == "admin"
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert "You joined Acme Rockets." in client.get("/accounts/security/").content.decode()


def test_accepting_needs_the_csrf_token(invitation: Invitation) -> None:
    invitee = UserFactory(email="guest@example.com")
    client = Client(enforce_csrf_checks=True)
    client.force_login(invitee)

    response = client.post("/invitations/accept/", {"token": "t1"})

    assert response.status_code == 403
    assert not Membership.objects.filter(user=invitee).exists()


def test_someone_else_signed_in_cannot_accept(invitation: Invitation) -> None:
    intruder = UserFactory(email="intruder@example.com")
    client = client_of(intruder)

    page = client.get(PAGE).content.decode()
    assert "You are signed in as intruder@example.com" in page
    assert 'name="token"' not in page
    assert f'href="/accounts/logout/?{NEXT}"' in page

    response = client.post("/invitations/accept/", {"token": "t1"})

    assert response.status_code == 403
    assert "guest@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=intruder).exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


def test_anonymous_post_is_sent_to_sign_in(invitation: Invitation) -> None:
    response = Client().post("/invitations/accept/", {"token": "t1"})

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={quote(PAGE, safe='')}")
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


@pytest.mark.parametrize(("_case", "traits", "text"), [
    ("unknown", None, "not valid"), ("expired", {"expired": True}, "expired"),
    ("revoked", {"revoked": True}, "withdrawn"), ("accepted", {"accepted": True}, "already been accepted"),
])
def test_unusable_links_show_why(_case: str, traits: dict | None, text: str) -> None:
    if traits is not None:
        InvitationFactory(token="t1", **traits)

    response = Client().get(PAGE)

    assert response.status_code == 404
    html = response.content.decode()
    assert text in html and 'class="alert alert--error"' in html
    assert "<form" not in html.split('class="card"')[1]
