import pytest
from django.test import Client

from apps.orgs.services.organizations import member_add, organization_create
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_admin_lists_organizations_with_member_counts_and_finds_them_by_member_email(admin_client: Client) -> None:
    owner = UserFactory(email="boss@acme.test")
    org = organization_create(user=owner, name="Acme", slug="acme")
    member_add(organization=org, user=UserFactory(email="dev@acme.test"), role="member", actor=owner, source="test")
    organization_create(user=UserFactory(email="x@other.test"), name="Other", slug="other")

    listing = admin_client.get("/admin/orgs/organization/", {"q": "dev@acme.test"}).content.decode()
    assert "Acme" in listing and "Other" not in listing
    assert '<td class="field-member_count">2</td>' in listing
    detail = admin_client.get(f"/admin/orgs/organization/{org.pk}/change/").content.decode()
    assert "dev@acme.test" in detail and "boss@acme.test" in detail


def test_staff_restore_a_deleted_organization_with_an_audit_event(admin_client: Client) -> None:
    from django.utils import timezone

    from apps.audit.models import AuditEvent
    from apps.orgs.models import Organization

    org = organization_create(user=UserFactory(email="o@x.test"), name="Gone", slug="gone")
    Organization.objects.filter(pk=org.pk).update(deleted_at=timezone.now())
    response = admin_client.post("/admin/orgs/organization/", {"action": "restore_organizations",
                                                                "_selected_action": [str(org.pk)]})
    assert response.status_code == 302
    assert Organization.objects.get(pk=org.pk).deleted_at is None
    assert AuditEvent.objects.filter(action="organization.restored", organization_id=org.pk).exists()
