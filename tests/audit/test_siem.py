"""SIEM streaming: committed events of an organization with a sink leave as one JSON line each."""

import json
import socket
from collections.abc import Callable, Iterator

import pytest
from django.db import transaction
from django.test import Client

from apps.audit.apis import AuditEventSerializer
from apps.audit.models import AuditEvent
from apps.audit.services import emit
from apps.core.context import RequestContext, bind_context, unbind_context
from apps.orgs.models import Organization
from apps.orgs.roles import system_role_id
from apps.orgs.services.organizations import organization_create
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import signed_in
from tests.orgs.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def _api_shape(event: AuditEvent) -> dict:
    """The event as GET /audit-logs/<id> shows it."""
    return json.loads(json.dumps(AuditEventSerializer(AuditEvent.objects.get(pk=event.pk)).data))


def _emit(organization_id: object = None) -> AuditEvent:
    return emit(action="user.signed_in", actor=UserFactory(), organization_id=organization_id,
                metadata={"method": "password"}, changes={"note": ["a", "é"]})


@pytest.fixture
def syslog_server(settings: object) -> Iterator[socket.socket]:
    """A local UDP syslog receiver, and AUDIT_SYSLOG_ADDRESS pointing at it."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    settings.AUDIT_SYSLOG_ADDRESS = f"127.0.0.1:{receiver.getsockname()[1]}"
    yield receiver
    receiver.close()


def test_stdout_sink_writes_one_bare_json_line_per_committed_event(
        capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
        django_capture_on_commit_callbacks: Callable) -> None:
    org = OrganizationFactory(audit_sink="stdout")
    token = bind_context(RequestContext(request_id="req-9", ip="203.0.113.9", user_agent="curl/8"))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event = _emit(org.pk)
            assert capsys.readouterr().out == ""  # nothing before commit
    finally:
        unbind_context(token)

    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [_api_shape(event)]
    assert json.loads(lines[0])["ip"] == "203.0.113.9" and json.loads(lines[0])["changes"] == {"note": ["a", "é"]}
    assert event.hash not in caplog.text  # the line is not repeated, reformatted, by the root logger


def test_syslog_sink_sends_the_line_to_the_configured_address(
        syslog_server: socket.socket, django_capture_on_commit_callbacks: Callable) -> None:
    org = OrganizationFactory(audit_sink="syslog")
    with django_capture_on_commit_callbacks(execute=True):
        event = _emit(org.pk)

    datagram = syslog_server.recv(65535).decode()
    prefix = "<38>plinto-audit: "  # facility auth (4) * 8 + severity info (6)
    assert datagram.startswith(prefix)
    assert json.loads(datagram[len(prefix):].rstrip("\x00")) == _api_shape(event)


def test_events_of_organizations_without_a_sink_and_of_the_platform_go_nowhere_by_default(
        capsys: pytest.CaptureFixture, syslog_server: socket.socket,
        django_capture_on_commit_callbacks: Callable) -> None:
    OrganizationFactory(audit_sink="stdout")  # a neighbour's sink never carries these
    quiet = OrganizationFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _emit(quiet.pk)
        _emit()
    assert len(callbacks) == 2
    assert capsys.readouterr().out == ""
    syslog_server.settimeout(0.2)
    with pytest.raises(TimeoutError):
        syslog_server.recv(65535)


def test_the_platform_chain_streams_to_the_platform_sink(
        settings: object, capsys: pytest.CaptureFixture, django_capture_on_commit_callbacks: Callable) -> None:
    settings.AUDIT_PLATFORM_SINK = "stdout"
    with django_capture_on_commit_callbacks(execute=True):
        event = _emit()
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [_api_shape(event)]


def test_rolled_back_events_are_not_forwarded(
        capsys: pytest.CaptureFixture, syslog_server: socket.socket,
        django_capture_on_commit_callbacks: Callable) -> None:
    to_stdout, to_syslog = OrganizationFactory(audit_sink="stdout"), OrganizationFactory(audit_sink="syslog")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _emit(to_stdout.pk)
            _emit(to_syslog.pk)
            raise RuntimeError
    assert callbacks == [] and not AuditEvent.objects.exists()
    assert capsys.readouterr().out == ""
    syslog_server.settimeout(0.2)
    with pytest.raises(TimeoutError):
        syslog_server.recv(65535)


def test_a_broken_sink_does_not_fail_the_request(
        settings: object, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Callable) -> None:
    settings.AUDIT_SYSLOG_ADDRESS = "/nonexistent/plinto-test/log"  # no such socket
    owner = UserFactory(email="owner@example.com")
    org = organization_create(user=owner, name="Acme", slug="acme-siem")
    Organization.objects.filter(pk=org.pk).update(audit_sink="syslog")
    client = signed_in("owner@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(f"/api/v1/organizations/{org.pk}", {"name": "Acme 2"}, format="json")

    assert response.status_code == 200, response.content
    org.refresh_from_db()
    assert org.name == "Acme 2"
    event = AuditEvent.objects.get(action="organization.updated", organization_id=org.pk)
    assert f"audit subscriber {_siem_forward_repr()} failed for event {event.id}" in caplog.text


def _siem_forward_repr() -> str:
    from apps.audit.sinks import siem_forward

    return repr(siem_forward)


def test_sink_is_set_by_staff_in_the_admin_only_and_the_change_is_recorded(
        admin_client: Client, operator: object, capsys: pytest.CaptureFixture,
        django_capture_on_commit_callbacks: Callable) -> None:
    owner = UserFactory(email="owner@example.com")
    org = organization_create(user=owner, name="Acme", slug="acme-sink")
    through_api = signed_in("owner@example.com").patch(f"/api/v1/organizations/{org.pk}",
                                                        {"audit_sink": "stdout", "audit_retention_days": 1},
                                                        format="json")
    assert through_api.status_code == 200 and "audit_sink" not in through_api.json()
    org.refresh_from_db()
    assert (org.audit_sink, org.audit_retention_days) == ("", 365)

    form = {"name": org.name, "slug": org.slug, "allowed_email_domains": "[]", "ip_allowlist": "[]",
            "default_role": org.default_role_id, "audit_retention_days": "365", "audit_sink": "stdout",
            "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": str(org.memberships.get().pk), "memberships-0-organization": str(org.pk),
            "memberships-0-role": str(system_role_id("owner")), "memberships-0-status": "active"}
    capsys.readouterr()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/orgs/organization/{org.pk}/change/", form)

    assert response.status_code == 302
    org.refresh_from_db()
    assert org.audit_sink == "stdout"
    event = AuditEvent.objects.get(action="audit.sink_changed")
    assert (event.chain_key, event.actor_id, event.changes) == (str(org.pk), str(operator.pk),
                                                                {"audit_sink": ["", "stdout"]})
    # the change itself is the first event the new sink carries
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [str(event.pk)]
