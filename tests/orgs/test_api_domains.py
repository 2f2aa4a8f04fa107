"""Domains through the API: claiming, DNS TXT verification (never real DNS), tenancy, and auto-join."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.services.users import user_record_signed_up
from apps.audit.models import AuditEvent
from apps.orgs import dns as org_dns
from apps.orgs.models import Domain, Membership, Organization
from apps.orgs.roles import system_role_id
from apps.orgs.services.domains import domain_add, domain_verify, domains_auto_join
from apps.orgs.services.organizations import member_add, organization_create
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in

pytestmark = pytest.mark.django_db


class FakeResolver:
    """Answers from a dict {name: [txt, ...]}, or raises `error`; records every name asked."""

    def __init__(self, records: dict[str, list[str]] | None = None, error: Exception | None = None) -> None:
        self.records = records or {}
        self.error = error
        self.asked: list[str] = []

    def txt(self, name: str) -> list[str]:
        self.asked.append(name)
        if self.error is not None:
            raise self.error
        return self.records.get(name, [])


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    fake = FakeResolver()
    monkeypatch.setattr(org_dns, "resolver", lambda: fake)
    return fake


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any test that reaches dnspython's network code without faking it fails loudly instead."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test tried to query real DNS")

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", refuse)


def publish(fake: FakeResolver, domain: Domain, *extra: str) -> None:
    fake.records[f"_plinto-challenge.{domain.domain}"] = [*extra, f"plinto-verification={domain.verification_token}"]


@dataclass
class World:
    acme: Organization
    globex: Organization
    people: dict[str, User]


@pytest.fixture
def world() -> World:
    people = {name: UserFactory(email=f"{name}@example.com") for name in ("owner", "admin", "member", "viewer",
                                                                          "rival")}
    acme = organization_create(user=people["owner"], name="Acme", slug="acme")
    for name in ("admin", "member", "viewer"):
        member_add(organization=acme, user=people[name], role=name, actor=people["owner"], source="test")
    globex = organization_create(user=people["rival"], name="Globex", slug="globex")
    return World(acme=acme, globex=globex, people=people)


def client_of(world: World, who: str) -> APIClient:
    return APIClient() if who == "anonymous" else signed_in(world.people[who].email)


def snapshot() -> tuple:
    return (sorted(Domain.objects.values_list("organization_id", "domain", "auto_join", "verified_at")),
            AuditEvent.objects.filter(action__startswith="domain.").count())


# Claiming ------------------------------------------------------------------------------------------

def test_add_returns_the_txt_record_to_publish_and_emits_domain_added(world: World) -> None:
    response = client_of(world, "admin").post(f"/api/v1/organizations/{world.acme.pk}/domains",
                                              {"domain": "Acme.COM.", "auto_join": True}, format="json")
    assert response.status_code == 201, response.content
    row = Domain.objects.get(organization=world.acme)
    body = response.json()
    assert {k: body[k] for k in ("id", "domain", "verified", "auto_join", "txt_record")} == {
        "id": str(row.pk), "domain": "acme.com", "verified": False, "auto_join": True,
        "txt_record": {"name": "_plinto-challenge.acme.com", "value": f"plinto-verification={row.verification_token}"},
    }
    assert len(row.verification_token) >= 32
    event = AuditEvent.objects.get(action="domain.added")
    assert (event.organization_id, event.target_id, event.metadata) == (world.acme.pk, str(row.pk),
                                                                        {"domain": "acme.com"})


def test_each_claim_gets_its_own_token(world: World) -> None:
    first = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    second = domain_add(organization=world.globex, actor=world.people["rival"], domain="acme.com")
    assert first.verification_token != second.verification_token


def test_an_internationalized_domain_is_stored_as_its_idna_a_label(world: World) -> None:
    response = client_of(world, "owner").post(f"/api/v1/organizations/{world.acme.pk}/domains",
                                              {"domain": "Bücher.example"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["domain"] == "xn--bcher-kva.example"
    assert response.json()["txt_record"]["name"] == "_plinto-challenge.xn--bcher-kva.example"


@pytest.mark.parametrize("value", [
    "https://acme.com", "acme.com/path", "acme.com:443", "localhost", "", "   ", "acme..com", "-acme.com",
    "acme-.com", "ac me.com", "bob@acme.com", "192.0.2.1", "*.acme.com", "acme_x.com",
    ("a" * 62 + ".") * 3 + "a" * 61 + ".com",  # 254 characters, every label valid: over the 253 limit
    "a" * 64 + ".com",  # a label over 63 characters
])
def test_add_refuses_what_is_not_a_bare_domain(world: World, value: str) -> None:
    before = snapshot()
    response = client_of(world, "admin").post(f"/api/v1/organizations/{world.acme.pk}/domains",
                                              {"domain": value}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_failed"), response.content
    assert [e["field"] for e in response.json()["errors"]] == ["domain"]
    assert snapshot() == before


def test_a_domain_of_253_characters_is_accepted(world: World) -> None:
    value = ("a" * 62 + ".") * 3 + "a" * 60 + ".com"
    assert len(value) == 253
    response = client_of(world, "admin").post(f"/api/v1/organizations/{world.acme.pk}/domains",
                                              {"domain": value}, format="json")
    assert response.status_code == 201, response.content


def test_the_same_domain_twice_in_one_org_conflicts(world: World) -> None:
    domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    response = client_of(world, "admin").post(f"/api/v1/organizations/{world.acme.pk}/domains",
                                              {"domain": "ACME.com"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "domain_exists")
    assert Domain.objects.filter(organization=world.acme).count() == 1


def test_list_and_get_show_only_my_orgs_domains(world: World) -> None:
    mine = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    theirs = domain_add(organization=world.globex, actor=world.people["rival"], domain="globex.com")
    viewer = client_of(world, "viewer")
    listing = viewer.get(f"/api/v1/organizations/{world.acme.pk}/domains").json()
    assert ([d["domain"] for d in listing["results"]], listing["next_cursor"]) == (["acme.com"], None)
    assert viewer.get(f"/api/v1/domains/{mine.pk}").json()["domain"] == "acme.com"
    assert viewer.get(f"/api/v1/domains/{theirs.pk}").status_code == 404
    assert viewer.get("/api/v1/domains/not-a-uuid").status_code == 404


# Verification --------------------------------------------------------------------------------------

def test_verify_finds_the_txt_record_and_emits_domain_verified_once(world: World, fake_dns: FakeResolver) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    publish(fake_dns, domain, "v=spf1 -all", "plinto-verification=someone-elses-token")
    admin = client_of(world, "admin")

    response = admin.post(f"/api/v1/domains/{domain.pk}/verify")
    assert response.status_code == 200, response.content
    assert response.json()["verified"] is True
    assert fake_dns.asked == ["_plinto-challenge.acme.com"]
    domain.refresh_from_db()
    assert domain.verified_at is not None
    event = AuditEvent.objects.get(action="domain.verified")
    assert (event.organization_id, event.actor_email, event.metadata) == (world.acme.pk, "admin@example.com",
                                                                          {"domain": "acme.com"})

    again = admin.post(f"/api/v1/domains/{domain.pk}/verify")
    assert (again.status_code, again.json()["verified"]) == (200, True)
    assert fake_dns.asked == ["_plinto-challenge.acme.com"]  # no second look-up
    assert AuditEvent.objects.filter(action="domain.verified").count() == 1


@pytest.mark.parametrize("records", [[], ["plinto-verification=wrong"], ["v=spf1 -all"]])
def test_verify_without_the_record_fails_and_changes_nothing(world: World, fake_dns: FakeResolver,
                                                             records: list[str]) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    fake_dns.records["_plinto-challenge.acme.com"] = records
    before = snapshot()
    response = client_of(world, "admin").post(f"/api/v1/domains/{domain.pk}/verify")
    assert (response.status_code, response.json()["code"]) == (400, "verification_failed")
    assert response.json()["txt_record"] == {"name": "_plinto-challenge.acme.com",
                                             "value": f"plinto-verification={domain.verification_token}"}
    assert snapshot() == before


def test_verify_when_dns_is_down_answers_503_dns_unavailable(world: World, fake_dns: FakeResolver) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    fake_dns.error = org_dns.DnsUnavailable("DNS did not answer.")
    before = snapshot()
    response = client_of(world, "admin").post(f"/api/v1/domains/{domain.pk}/verify")
    assert (response.status_code, response.json()["code"]) == (503, "dns_unavailable")
    assert response["Content-Type"] == "application/problem+json"
    assert snapshot() == before


def test_a_domain_verified_by_another_org_cannot_be_verified_again(world: World, fake_dns: FakeResolver) -> None:
    theirs = domain_add(organization=world.globex, actor=world.people["rival"], domain="acme.com")
    publish(fake_dns, theirs)
    domain_verify(domain=theirs, actor=world.people["rival"])
    mine = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    publish(fake_dns, mine)
    before = snapshot()

    response = client_of(world, "admin").post(f"/api/v1/domains/{mine.pk}/verify")
    assert (response.status_code, response.json()["code"]) == (409, "domain_taken")
    assert snapshot() == before
    mine.refresh_from_db()
    assert mine.verified_at is None


def test_the_verified_once_constraint_holds_when_the_pre_check_is_raced(world: World, fake_dns: FakeResolver,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = domain_add(organization=world.globex, actor=world.people["rival"], domain="acme.com")
    mine = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    publish(fake_dns, mine)

    class VerifyTheirsMeanwhile(FakeResolver):
        def txt(self, name: str) -> list[str]:  # the other org wins between our pre-check and our write
            Domain.objects.filter(pk=theirs.pk).update(verified_at="2026-01-01T00:00:00Z")
            return fake_dns.txt(name)

    monkeypatch.setattr(org_dns, "resolver", VerifyTheirsMeanwhile)
    response = client_of(world, "admin").post(f"/api/v1/domains/{mine.pk}/verify")
    assert (response.status_code, response.json()["code"]) == (409, "domain_taken")


# Update and delete ---------------------------------------------------------------------------------

def test_patch_auto_join_and_delete(world: World) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    admin = client_of(world, "admin")
    patched = admin.patch(f"/api/v1/domains/{domain.pk}", {"auto_join": True}, format="json")
    assert (patched.status_code, patched.json()["auto_join"]) == (200, True)
    updated = AuditEvent.objects.get(action="domain.updated")
    assert (updated.organization_id, updated.changes) == (world.acme.pk, {"auto_join": [False, True]})
    assert admin.patch(f"/api/v1/domains/{domain.pk}", {}, format="json").status_code == 400

    assert admin.delete(f"/api/v1/domains/{domain.pk}").status_code == 204
    assert not Domain.objects.filter(pk=domain.pk).exists()
    removed = AuditEvent.objects.get(action="domain.removed")
    assert (removed.organization_id, removed.target_id, removed.metadata) == (
        world.acme.pk, str(domain.pk), {"domain": "acme.com"})
    assert admin.get(f"/api/v1/domains/{domain.pk}").status_code == 404


# Permission matrix ---------------------------------------------------------------------------------

def _calls(world: World, domain: Domain) -> dict[str, tuple[str, str, dict | None]]:
    return {
        "list": ("get", f"/api/v1/organizations/{world.acme.pk}/domains", None),
        "get": ("get", f"/api/v1/domains/{domain.pk}", None),
        "add": ("post", f"/api/v1/organizations/{world.acme.pk}/domains", {"domain": "new.example"}),
        "verify": ("post", f"/api/v1/domains/{domain.pk}/verify", None),
        "update": ("patch", f"/api/v1/domains/{domain.pk}", {"auto_join": True}),
        "delete": ("delete", f"/api/v1/domains/{domain.pk}", None),
    }


READS, WRITES = ["list", "get"], ["add", "verify", "update", "delete"]
DENIED = ([("anonymous", call, 401, "not_authenticated") for call in READS + WRITES]
          + [("rival", call, 404, "not_found") for call in READS + WRITES]
          + [(who, call, 403, "permission_denied") for who in ("viewer", "member") for call in WRITES])


@pytest.mark.parametrize(("who", "call", "status", "code"), DENIED)
def test_denied_callers_change_nothing(world: World, fake_dns: FakeResolver, who: str, call: str, status: int,
                                       code: str) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    publish(fake_dns, domain)
    method, url, data = _calls(world, domain)[call]
    before = snapshot()
    response = getattr(client_of(world, who), method)(url, data, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    if status == 403:
        assert response.json()["permission"] == "domains:manage"
    assert snapshot() == before
    assert fake_dns.asked == []


@pytest.mark.parametrize("who", ["viewer", "member", "admin", "owner"])
@pytest.mark.parametrize("call", READS)
def test_every_member_may_read_domains(world: World, who: str, call: str) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    method, url, _ = _calls(world, domain)[call]
    assert getattr(client_of(world, who), method)(url).status_code == 200


@pytest.mark.parametrize(("call", "status", "action"), [
    ("add", 201, "domain.added"), ("verify", 200, "domain.verified"), ("update", 200, "domain.updated"),
    ("delete", 204, "domain.removed"),
])
@pytest.mark.parametrize("who", ["admin", "owner"])
def test_admins_and_owners_may_manage_domains(world: World, fake_dns: FakeResolver, who: str, call: str,
                                              status: int, action: str) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    publish(fake_dns, domain)
    method, url, data = _calls(world, domain)[call]
    response = getattr(client_of(world, who), method)(url, data, format="json")
    assert response.status_code == status, response.content
    event = AuditEvent.objects.filter(action=action).latest("occurred_at")
    assert (event.actor_email, event.organization_id) == (f"{who}@example.com", world.acme.pk)


# The real resolver, offline ------------------------------------------------------------------------

def txt_rdata(*strings: str) -> dns.rdata.Rdata:
    text = " ".join(f'"{s}"' for s in strings)
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)


@pytest.fixture
def dnspython(monkeypatch: pytest.MonkeyPatch) -> dict:
    """dnspython's Resolver with its network call replaced: `outcome` is returned or raised."""
    seen: dict = {"outcome": [], "calls": []}

    def read_resolv_conf(self: dns.resolver.Resolver, filename: object) -> None:  # no /etc/resolv.conf needed
        self.nameservers = ["192.0.2.53"]

    def resolve(self: dns.resolver.Resolver, qname: str, rdtype: str = "A", **kwargs: object) -> object:
        seen["calls"].append({"qname": qname, "rdtype": rdtype, "lifetime": kwargs.get("lifetime"),
                              "resolver_timeout": self.timeout, "resolver_lifetime": self.lifetime,
                              "nameservers": list(self.nameservers)})
        if isinstance(seen["outcome"], Exception):
            raise seen["outcome"]
        return seen["outcome"]

    monkeypatch.setattr(dns.resolver.Resolver, "read_resolv_conf", read_resolv_conf)
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", resolve)
    return seen


def test_dnspython_resolver_joins_split_strings_and_asks_with_a_3_second_budget(dnspython: dict) -> None:
    dnspython["outcome"] = [txt_rdata("plinto-verification=", "abc"), txt_rdata("v=spf1 -all")]
    assert org_dns.DnsPythonResolver().txt("_plinto-challenge.acme.com") == ["plinto-verification=abc",
                                                                             "v=spf1 -all"]
    assert dnspython["calls"] == [{"qname": "_plinto-challenge.acme.com", "rdtype": "TXT", "lifetime": 3.0,
                                   "resolver_timeout": 3.0, "resolver_lifetime": 3.0,
                                   "nameservers": ["192.0.2.53"]}]


def test_dnspython_resolver_can_use_given_nameservers(dnspython: dict) -> None:
    org_dns.DnsPythonResolver(nameservers=["198.51.100.1"]).txt("acme.com")
    assert dnspython["calls"][0]["nameservers"] == ["198.51.100.1"]


@pytest.mark.parametrize("error", [dns.resolver.NXDOMAIN(), dns.resolver.NoAnswer()])
def test_dnspython_resolver_answers_nothing_for_a_missing_name_or_record(dnspython: dict, error: Exception) -> None:
    dnspython["outcome"] = error
    assert org_dns.DnsPythonResolver().txt("_plinto-challenge.acme.com") == []


@pytest.mark.parametrize("error", [dns.resolver.LifetimeTimeout(timeout=3.0, errors=[]),
                                   dns.resolver.NoNameservers(), dns.resolver.YXDOMAIN(),
                                   OSError("network unreachable")])
def test_dnspython_resolver_raises_dns_unavailable_on_other_failures(dnspython: dict, error: Exception) -> None:
    dnspython["outcome"] = error
    with pytest.raises(org_dns.DnsUnavailable) as raised:
        org_dns.DnsPythonResolver().txt("_plinto-challenge.acme.com")
    assert (raised.value.status, raised.value.code) == (503, "dns_unavailable")


def test_verify_through_the_real_resolver_class(world: World, dnspython: dict) -> None:
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.com")
    dnspython["outcome"] = [txt_rdata(f"plinto-verification={domain.verification_token}")]
    response = client_of(world, "owner").post(f"/api/v1/domains/{domain.pk}/verify")
    assert (response.status_code, response.json()["verified"]) == (200, True)
    dnspython["outcome"] = dns.resolver.NoNameservers()
    other = domain_add(organization=world.acme, actor=world.people["owner"], domain="other.example")
    response = client_of(world, "owner").post(f"/api/v1/domains/{other.pk}/verify")
    assert (response.status_code, response.json()["code"]) == (503, "dns_unavailable")


def test_resolver_factory_defaults_to_dnspython_and_honours_the_setting(settings) -> None:  # noqa: ANN001
    assert isinstance(org_dns.resolver(), org_dns.DnsPythonResolver)
    settings.DNS_TXT_RESOLVER = "tests.orgs.test_api_domains.FakeResolver"
    assert isinstance(org_dns.resolver(), FakeResolver)


# Auto-join -----------------------------------------------------------------------------------------

@pytest.fixture
def joinable(world: World, fake_dns: FakeResolver) -> Domain:
    """acme.test verified by Acme with auto_join on; Acme's default role is viewer."""
    world.acme.default_role_id = system_role_id("viewer")
    world.acme.save(update_fields=["default_role"])
    domain = domain_add(organization=world.acme, actor=world.people["owner"], domain="acme.test", auto_join=True)
    publish(fake_dns, domain)
    return domain_verify(domain=domain, actor=world.people["owner"])


def signup(email: str) -> None:
    response = APIClient().post("/api/v1/auth/signup", {"email": email, "password": "a fine passphrase"},
                                format="json")
    assert response.status_code == 201, response.content


def verify_from_mail() -> None:
    token = re.search(r"/accounts/confirm-email/([^/\s]+)/", mail.outbox[-1].body).group(1)
    response = APIClient().post("/api/v1/auth/email/verify", {"token": token}, format="json")
    assert response.status_code == 200, response.content


def test_a_new_user_joins_once_their_address_is_verified_not_before(world: World, joinable: Domain,
                                                                    django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        signup("New.Hire@ACME.test")
    user = User.objects.get(email__iexact="new.hire@acme.test")
    assert not Membership.objects.filter(user=user).exists()  # unverified: anyone could have typed it

    with django_capture_on_commit_callbacks(execute=True):
        verify_from_mail()
    membership = Membership.objects.get(user=user)
    assert (membership.organization_id, membership.role.name) == (world.acme.pk, "viewer")
    event = AuditEvent.objects.get(action="member.added", target_id=str(user.pk))
    assert (event.organization_id, event.actor_type, event.metadata) == (
        world.acme.pk, "system", {"role": "viewer", "source": "domain_auto_join"})


def test_a_sign_up_with_an_already_verified_address_joins_at_once(world: World, joinable: Domain,
                                                                  django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    user = UserFactory(email="social@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        user_record_signed_up(user=user, method="oauth_google")
    assert Membership.objects.get(user=user).organization_id == world.acme.pk


@pytest.mark.parametrize("_case", ["domain not verified", "auto_join off", "subdomain", "other domain",
                                   "org deleted"])
def test_no_auto_join_outside_a_verified_auto_join_domain(world: World, joinable: Domain, _case: str) -> None:
    email = "someone@acme.test"
    if _case == "domain not verified":
        Domain.objects.filter(pk=joinable.pk).update(verified_at=None)
    elif _case == "auto_join off":
        Domain.objects.filter(pk=joinable.pk).update(auto_join=False)
    elif _case == "subdomain":
        email = "someone@eng.acme.test"
    elif _case == "other domain":
        email = "someone@acme.test.evil.example"
    elif _case == "org deleted":
        Organization.objects.filter(pk=world.acme.pk).update(deleted_at="2026-01-01T00:00:00Z")
    user = UserFactory(email=email)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    assert domains_auto_join(user) == []
    assert not Membership.objects.filter(user=user).exists()


def test_auto_join_skips_an_unverified_address_and_an_existing_member(world: World, joinable: Domain) -> None:
    unverified = UserFactory(email="unverified@acme.test")
    EmailAddress.objects.create(user=unverified, email=unverified.email, primary=True, verified=False)
    assert domains_auto_join(unverified) == []

    already = UserFactory(email="already@acme.test")
    EmailAddress.objects.create(user=already, email=already.email, primary=True, verified=True)
    member_add(organization=world.acme, user=already, role="admin", actor=world.people["owner"], source="test")
    assert domains_auto_join(already) == []
    assert Membership.objects.get(user=already).role.name == "admin"
    assert domains_auto_join(already) == []


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("patch", ""), ("delete", ""), ("post", "/verify")])
def test_another_orgs_domain_answers_exactly_like_a_missing_one(world: World, method: str, suffix: str) -> None:
    theirs = domain_add(organization=world.globex, actor=world.people["rival"], domain="globex.com")
    me = client_of(world, "owner")
    foreign = getattr(me, method)(f"/api/v1/domains/{theirs.pk}{suffix}", {"auto_join": True}, format="json").json()
    missing = getattr(me, method)(f"/api/v1/domains/{uuid.uuid4()}{suffix}", {"auto_join": True},
                                  format="json").json()
    ignore = {"instance", "request_id"}
    assert {k: v for k, v in foreign.items() if k not in ignore} == {k: v for k, v in missing.items()
                                                                     if k not in ignore}
    assert foreign["status"] == 404
