"""Organization pages under /orgs/ (apps/orgs/pages.py), with the Django test client.

Until plinto/urls.py includes apps.orgs.urls_pages, these tests route through tests/orgs/urls_for_pages.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dns.resolver
import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.models import User
from apps.orgs import dns as org_dns
from apps.orgs.models import Domain, Invitation, InvitationStatus, Membership, Organization, Team, TeamMembership
from apps.orgs.pages import ACTIVE_ORG_SESSION_KEY
from apps.orgs.services.domains import domain_add
from apps.orgs.services.teams import team_create
from tests.accounts.helpers import PASSWORD
from tests.orgs.factories import InvitationFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]
    team: Team
    domain: Domain

    def membership(self, name: str) -> Membership:
        return Membership.objects.get(organization=self.acme, user=self.people[name])


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test tried to query real DNS")

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", refuse)


@pytest.fixture
def world() -> World:
    """Acme: owner, admin, member, viewer. Globex: the stranger's own organization."""
    acme = OrganizationFactory(name="Acme Rockets", slug="acme")
    people = {}
    for role in ("owner", "admin", "member", "viewer"):
        people[role] = MembershipFactory(organization=acme, role=role, user__email=f"{role}@example.com").user
    globex = OrganizationFactory(name="Globex", slug="globex")
    people["stranger"] = MembershipFactory(organization=globex, owner=True, user__email="stranger@example.com").user
    team = team_create(organization=acme, actor=people["owner"], name="Launch")
    domain = domain_add(organization=acme, actor=people["owner"], domain="acme.test")
    return World(acme=acme, globex=globex, people=people, team=team, domain=domain)


def browser(user: User) -> Client:
    """A browser signed in through the sign-in page, as people are."""
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def org_url(world: World, page: str) -> str:
    base = f"/orgs/{world.acme.pk}/"
    return {"overview": base, "members": f"{base}members/", "invitations": f"{base}invitations/",
            "teams": f"{base}teams/", "team": f"{base}teams/{world.team.pk}/", "domains": f"{base}domains/"}[page]


def alert(html: str) -> str:
    """The text of the page's error alert."""
    found = re.search(r'<div class="alert alert--error" role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert found, "no error alert on the page"
    return found.group(1).strip()


# --- every page: members see it, strangers get 404 ----------------------------------------------


@pytest.mark.parametrize(("page", "role", "text"), [
    ("overview", "member", "Settings"), ("members", "member", "viewer@example.com"),
    ("invitations", "admin", "Pending"), ("teams", "member", "Launch"), ("team", "member", "Team Launch"),
    ("domains", "member", "_plinto-challenge.acme.test"),
])
def test_each_page_renders_for_a_member(world: World, page: str, role: str, text: str) -> None:
    response = browser(world.people[role]).get(org_url(world, page))

    assert response.status_code == 200
    assert "allauth/layouts/manage.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert text in html and "Acme Rockets" in html
    assert f'<span class="badge">{role}</span>' in html  # my role, beside the title


def test_my_organizations_lists_each_with_my_role_and_a_create_form(world: World) -> None:
    MembershipFactory(organization=world.globex, user=world.people["viewer"], role="admin")

    html = browser(world.people["viewer"]).get("/orgs/").content.decode()

    rows = re.findall(r'<tr>\s*<th scope="row"><a href="/orgs/([0-9a-f-]+)/">([^<]+)</a>.*?'
                      r'<span class="badge">(\w+)</span>', html, re.S)
    assert rows == [(str(world.acme.pk), "Acme Rockets", "viewer"), (str(world.globex.pk), "Globex", "admin")]
    assert 'name="slug"' in html and 'name="csrfmiddlewaretoken"' in html


@pytest.mark.parametrize("page", ["overview", "members", "invitations", "teams", "team", "domains"])
def test_a_stranger_gets_404_on_every_org_page_and_changes_nothing(world: World, page: str) -> None:
    client = browser(world.people["stranger"])

    assert client.get(org_url(world, page)).status_code == 404
    for action in ("update", "leave", "remove", "create", "add", "delete", "revoke"):
        body = {"action": action, "user_id": str(world.people["member"].pk), "name": "Hacked",
                "domain": "evil.test", "domain_id": str(world.domain.pk)}
        assert client.post(org_url(world, page), body).status_code == 404
    assert Membership.objects.filter(organization=world.acme).count() == 4
    assert Organization.objects.get(pk=world.acme.pk).name == "Acme Rockets"
    assert Team.objects.filter(organization=world.acme).count() == 1
    assert Domain.objects.filter(organization=world.acme).count() == 1


def test_unknown_organization_and_foreign_team_are_404(world: World) -> None:
    client = browser(world.people["stranger"])
    own_team = team_create(organization=world.globex, actor=world.people["stranger"], name="Spies")

    assert client.get("/orgs/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get(f"/orgs/{world.globex.pk}/teams/{world.team.pk}/").status_code == 404  # Acme's team
    owner = browser(world.people["owner"])
    assert owner.get(f"/orgs/{world.acme.pk}/teams/{own_team.pk}/").status_code == 404  # Globex's team


def test_pages_need_a_signed_in_user(world: World) -> None:
    for path in ("/orgs/", org_url(world, "members")):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_member_without_invitations_manage_is_told_why(world: World) -> None:
    response = browser(world.people["member"]).get(org_url(world, "invitations"))

    assert response.status_code == 403
    assert "lacks the permission members:invite" in alert(response.content.decode())


def test_posts_need_the_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.people["owner"])

    response = client.post("/orgs/", {"action": "create", "name": "Forged", "slug": "forged"})

    assert response.status_code == 403
    assert not Organization.objects.filter(slug="forged").exists()


# --- organizations and settings ------------------------------------------------------------------


def test_creating_an_organization_makes_me_its_owner(world: World) -> None:
    client = browser(world.people["member"])

    response = client.post("/orgs/", {"action": "create", "name": "Initech", "slug": "initech"})

    organization = Organization.objects.get(slug="initech")
    assert (response.status_code, response["Location"]) == (302, f"/orgs/{organization.pk}/")
    assert Membership.objects.get(organization=organization).user == world.people["member"]
    assert Membership.objects.get(organization=organization).role.name == "owner"
    assert "Initech was created; you are its owner." in client.get(response["Location"]).content.decode()


def test_a_taken_slug_is_shown_on_the_field_and_creates_nothing(world: World) -> None:
    response = browser(world.people["member"]).post("/orgs/", {"action": "create", "name": "Again", "slug": "acme"})

    assert response.status_code == 409
    assert re.search(r'<ul class="field__errors" id="id_slug_error"><li>The slug &#x27;acme&#x27; is taken.</li>',
                     response.content.decode())
    assert Organization.objects.count() == 2


def test_the_owner_updates_the_settings(world: World) -> None:
    client = browser(world.people["owner"])

    response = client.post(org_url(world, "overview"), {
        "action": "update", "name": "Acme Corp", "mfa_required": "", "allowed_email_domains": "Acme.test\nexample.com",
        "ip_allowlist": "", "session_max_age": "3600", "default_role": "viewer"})

    assert (response.status_code, response["Location"]) == (302, org_url(world, "overview"))
    world.acme.refresh_from_db()
    acme = world.acme
    assert (acme.name, acme.allowed_email_domains, acme.session_max_age, acme.default_role.name) \
        == ("Acme Corp", ["acme.test", "example.com"], 3600, "viewer")
    html = client.get(org_url(world, "overview")).content.decode()
    assert "The settings were saved." in html and "<h1>Acme Corp</h1>" in html


def test_invalid_settings_are_shown_and_change_nothing(world: World) -> None:
    response = browser(world.people["admin"]).post(org_url(world, "overview"), {
        "action": "update", "name": "Acme Corp", "ip_allowlist": "10.0.0.0/8\nnot-a-network", "default_role": "member"})

    assert response.status_code == 400
    assert re.search(r'id="id_ip_allowlist_error"><li>Not a CIDR', response.content.decode())
    world.acme.refresh_from_db()
    assert (world.acme.name, world.acme.ip_allowlist) == ("Acme Rockets", [])


def test_a_viewer_sees_the_settings_read_only(world: World) -> None:
    html = browser(world.people["viewer"]).get(org_url(world, "overview")).content.decode()

    assert 'name="default_role"' not in html and "Save settings" not in html
    assert "Only members who may update the organization can change these." in html


# --- members ---------------------------------------------------------------------------------------


def test_an_admin_changes_a_role_and_removes_a_member(world: World) -> None:
    client = browser(world.people["admin"])
    url = org_url(world, "members")

    response = client.post(url, {"action": "change_role", "user_id": str(world.people["member"].pk), "role": "admin"})
    assert (response.status_code, response["Location"]) == (302, url)
    assert world.membership("member").role.name == "admin"

    response = client.post(url, {"action": "remove", "user_id": str(world.people["viewer"].pk)})
    assert response.status_code == 302
    assert not Membership.objects.filter(organization=world.acme, user=world.people["viewer"]).exists()
    html = client.get(url).content.decode()
    assert "viewer@example.com was removed." in html and "3 members" in html


def test_only_owners_make_owners(world: World) -> None:
    response = browser(world.people["admin"]).post(org_url(world, "members"), {
        "action": "change_role", "user_id": str(world.people["member"].pk), "role": "owner"})

    assert response.status_code == 403
    assert alert(response.content.decode()) == "Only owners can make owners."
    assert world.membership("member").role.name == "member"


def test_the_last_owner_cannot_leave(world: World) -> None:
    client = browser(world.people["owner"])

    response = client.post(org_url(world, "members"), {"action": "leave"})

    assert response.status_code == 409
    assert alert(response.content.decode()) == ("Make someone else owner first: an organization keeps at least "
                                                "one owner.")
    assert world.membership("owner").role.name == "owner"
    assert Membership.objects.filter(organization=world.acme).count() == 4


def test_a_member_leaves_and_the_active_organization_is_forgotten(world: World) -> None:
    client = browser(world.people["member"])
    client.post("/orgs/", {"action": "switch", "organization_id": str(world.acme.pk)})

    response = client.post(org_url(world, "members"), {"action": "leave"})

    assert (response.status_code, response["Location"]) == (302, "/orgs/")
    assert not Membership.objects.filter(organization=world.acme, user=world.people["member"]).exists()
    assert ACTIVE_ORG_SESSION_KEY not in client.session
    assert client.get(org_url(world, "overview")).status_code == 404


# --- invitations -----------------------------------------------------------------------------------


def test_inviting_sends_an_email(world: World, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    client = browser(world.people["admin"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(org_url(world, "members"), {
            "action": "invite", "invite-email": "New@Example.com", "invite-role": "member",
            "invite-message": "Welcome aboard"})

    assert (response.status_code, response["Location"]) == (302, org_url(world, "members"))
    [message] = mail.outbox
    assert message.to == ["new@example.com"] and "Acme Rockets" in message.subject + message.body
    assert "Welcome aboard" in message.body
    assert Invitation.objects.get(organization=world.acme).status == InvitationStatus.PENDING
    assert "new@example.com" in client.get(org_url(world, "invitations")).content.decode()


def test_an_invitation_refused_by_the_service_is_shown(world: World, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(world.people["admin"]).post(org_url(world, "members"), {
            "action": "invite", "invite-email": "member@example.com", "invite-role": "member"})

    assert response.status_code == 409
    assert alert(response.content.decode()) == "member@example.com is already a member."
    assert mail.outbox == [] and not Invitation.objects.exists()


def test_csv_bulk_invite_shows_the_result_of_each_row(world: World, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    csv = (b"email,role\nada@example.com,member\nnot-an-address,member\ngrace@example.com,wizard\n"
           b"ADA@example.com,admin\n")
    upload = SimpleUploadedFile("people.csv", csv, content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = browser(world.people["admin"]).post(org_url(world, "members"), {
            "action": "bulk_invite", "bulk-file": upload, "bulk-message": ""})

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 of 4 rows invited." in html
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>\s*<td[^>]*>([^<]*)</td>\s*<td>(.*?)</td>", html, re.S)
    results = [(line, email, re.search(r"<code>(\w*)</code>", cell).group(1) if "Not invited" in cell else "ok")
               for line, email, cell in rows]
    assert results == [("2", "ada@example.com", "ok"), ("3", "not-an-address", "invalid_email"),
                       ("4", "grace@example.com", "unknown_role"), ("5", "ADA@example.com", "duplicate_in_request")]
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


def test_a_csv_without_the_header_is_refused(world: World) -> None:
    upload = SimpleUploadedFile("people.csv", b"ada@example.com,member\n", content_type="text/csv")

    response = browser(world.people["admin"]).post(org_url(world, "members"), {
        "action": "bulk_invite", "bulk-file": upload})

    assert response.status_code == 400
    assert "The first line must be a header naming the columns email and role." in alert(response.content.decode())
    assert not Invitation.objects.exists()


def test_resend_and_revoke_from_the_invitations_page(world: World, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    expired = InvitationFactory(organization=world.acme, email="late@example.com", expired=True)
    pending = InvitationFactory(organization=world.acme, email="soon@example.com")
    client = browser(world.people["admin"])
    html = client.get(org_url(world, "invitations")).content.decode()
    assert html.index("soon@example.com") < html.index("Expired") < html.index("late@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(org_url(world, "invitations"), {"action": "resend", "invitation_id": str(expired.pk)})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["late@example.com"]]
    response = client.post(org_url(world, "invitations"), {"action": "revoke", "invitation_id": str(pending.pk)})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == InvitationStatus.REVOKED


def test_another_organizations_invitation_is_404(world: World) -> None:
    theirs = InvitationFactory(organization=world.globex)

    response = browser(world.people["admin"]).post(org_url(world, "invitations"), {
        "action": "revoke", "invitation_id": str(theirs.pk)})

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == InvitationStatus.PENDING


# --- teams -----------------------------------------------------------------------------------------


def test_create_a_team_then_add_and_remove_a_member(world: World) -> None:
    client = browser(world.people["admin"])

    response = client.post(org_url(world, "teams"), {"action": "create", "name": "Ops", "description": "On call",
                                                     "role": ""})
    team = Team.objects.get(organization=world.acme, name="Ops")
    team_url = f"/orgs/{world.acme.pk}/teams/{team.pk}/"
    assert (response.status_code, response["Location"]) == (302, team_url)

    response = client.post(team_url, {"action": "add_member", "user_id": str(world.people["member"].pk)})
    assert response.status_code == 302
    assert TeamMembership.objects.filter(team=team, membership__user=world.people["member"]).exists()
    html = client.get(team_url).content.decode()
    assert "member@example.com was added to the team." in html and "1 member" in html

    client.post(team_url, {"action": "remove_member", "user_id": str(world.people["member"].pk)})
    assert not TeamMembership.objects.filter(team=team).exists()


def test_rename_and_delete_a_team(world: World) -> None:
    client = browser(world.people["owner"])
    url = org_url(world, "team")

    client.post(url, {"action": "update", "team-name": "Liftoff", "team-description": "", "team-role": "member"})
    world.team.refresh_from_db()
    assert (world.team.name, world.team.role.name) == ("Liftoff", "member")

    response = client.post(url, {"action": "delete"})
    assert (response.status_code, response["Location"]) == (302, org_url(world, "teams"))
    assert not Team.objects.filter(pk=world.team.pk).exists()


def test_a_duplicate_team_name_is_refused(world: World) -> None:
    response = browser(world.people["admin"]).post(org_url(world, "teams"), {"action": "create", "name": "launch"})

    assert response.status_code == 409
    assert "A team named &#x27;launch&#x27; exists" in alert(response.content.decode())
    assert Team.objects.filter(organization=world.acme).count() == 1


# --- domains ---------------------------------------------------------------------------------------


def test_adding_a_domain_shows_the_txt_record_to_publish(world: World) -> None:
    client = browser(world.people["admin"])

    response = client.post(org_url(world, "domains"), {"action": "add", "domain": "Example.COM"})

    domain = Domain.objects.get(organization=world.acme, domain="example.com")
    assert (response.status_code, response["Location"]) == (302, f"{org_url(world, 'domains')}#domain-{domain.pk}")
    html = client.get(org_url(world, "domains")).content.decode()
    assert "<code>_plinto-challenge.example.com</code>" in html
    assert f"<code>plinto-verification={domain.verification_token}</code>" in html


def test_verify_toggle_auto_join_and_remove_a_domain(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    published: dict[str, list[str]] = {}

    class Resolver:
        def txt(self, name: str) -> list[str]:
            return published.get(name, [])

    monkeypatch.setattr(org_dns, "resolver", Resolver)
    client = browser(world.people["owner"])
    url = org_url(world, "domains")
    body = {"domain_id": str(world.domain.pk)}

    response = client.post(url, {"action": "verify", **body})
    assert response.status_code == 400 and "No TXT record" in alert(response.content.decode())
    published["_plinto-challenge.acme.test"] = [f"plinto-verification={world.domain.verification_token}"]
    assert client.post(url, {"action": "verify", **body}).status_code == 302
    assert client.post(url, {"action": "auto_join", "auto_join": "on", **body}).status_code == 302
    world.domain.refresh_from_db()
    assert world.domain.verified_at is not None and world.domain.auto_join is True

    assert client.post(url, {"action": "remove", **body}).status_code == 302
    assert not Domain.objects.filter(pk=world.domain.pk).exists()


# --- the active organization -----------------------------------------------------------------------


def test_switch_sets_the_active_organization_shown_in_the_navigation(world: World) -> None:
    client = browser(world.people["viewer"])

    response = client.post("/orgs/", {"action": "switch", "organization_id": str(world.acme.pk)})

    assert (response.status_code, response["Location"]) == (302, "/orgs/")
    assert client.session[ACTIVE_ORG_SESSION_KEY] == str(world.acme.pk)
    for path in ("/orgs/", org_url(world, "members")):
        html = client.get(path).content.decode()
        assert re.search(r'<span class="manage-nav__active"><span class="visually-hidden">, </span>Active: '
                         r"Acme Rockets</span>", html)


def test_the_active_organization_shows_on_other_pages_and_in_the_header(world: World) -> None:
    client = browser(world.people["viewer"])
    assert "Active: Acme Rockets" not in client.get("/accounts/security/").content.decode()

    client.post("/orgs/", {"action": "switch", "organization_id": str(world.acme.pk)})

    html = client.get("/accounts/security/").content.decode()
    assert "Active: Acme Rockets" in html
    assert re.search(r'<span class="visually-hidden">Active organization: </span>Acme Rockets</a>', html)


def test_switching_to_a_foreign_organization_is_404_and_sets_nothing(world: World) -> None:
    client = browser(world.people["stranger"])

    response = client.post("/orgs/", {"action": "switch", "organization_id": str(world.acme.pk)})

    assert response.status_code == 404
    assert ACTIVE_ORG_SESSION_KEY not in client.session


# --- a viewer reads but cannot write -----------------------------------------------------------------


def _snapshot(world: World) -> tuple:
    acme = Organization.objects.get(pk=world.acme.pk)
    return (
        (acme.name, acme.default_role_id),
        sorted(Membership.objects.filter(organization=world.acme).values_list("user__email", "role__name")),
        sorted(Team.objects.filter(organization=world.acme).values_list("name", flat=True)),
        TeamMembership.objects.filter(team__organization=world.acme).count(),
        sorted(Domain.objects.filter(organization=world.acme).values_list("domain", "auto_join", "verified_at")),
        Invitation.objects.filter(organization=world.acme).count(),
    )


@pytest.mark.parametrize(("_case", "page", "body"), [
    ("settings", "overview", {"action": "update", "name": "Viewer Inc", "default_role": "member"}),
    ("change role", "members", {"action": "change_role", "user_id": "{member}", "role": "admin"}),
    ("remove member", "members", {"action": "remove", "user_id": "{member}"}),
    ("invite", "members", {"action": "invite", "invite-email": "x@example.com", "invite-role": "member"}),
    ("bulk invite", "members", {"action": "bulk_invite"}),
    ("create team", "teams", {"action": "create", "name": "Mine"}),
    ("rename team", "team", {"action": "update", "team-name": "Mine"}),
    ("add to team", "team", {"action": "add_member", "user_id": "{member}"}),
    ("delete team", "team", {"action": "delete"}),
    ("add domain", "domains", {"action": "add", "domain": "viewer.test"}),
    ("auto-join", "domains", {"action": "auto_join", "auto_join": "on", "domain_id": "{domain}"}),
    ("remove domain", "domains", {"action": "remove", "domain_id": "{domain}"}),
])
def test_viewer_posts_are_403_and_change_nothing(world: World, _case: str, page: str, body: dict,
                                                 django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    client = browser(world.people["viewer"])
    before = _snapshot(world)
    data = {k: v.format(member=world.people["member"].pk, domain=world.domain.pk) for k, v in body.items()}
    if body["action"] == "bulk_invite":
        data["bulk-file"] = SimpleUploadedFile("a.csv", b"email,role\nx@example.com,member\n", content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(org_url(world, page), data)

    assert response.status_code == 403
    assert "Your role (viewer) lacks the permission" in alert(response.content.decode())
    assert _snapshot(world) == before and mail.outbox == []
