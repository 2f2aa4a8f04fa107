"""The data migration orgs.0005 (role names → the system roles' rows) on real rows.

Slow (seconds): it unapplies orgs 0004–0006 on the test database, writes rows with the historical
models, then migrates forward again. One test only; the `finally` always restores the full schema.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.orgs.models import Invitation, Membership, Organization, Team
from apps.orgs.roles import system_role_id
from apps.rbac.services.system_roles import system_roles_ensure

BEFORE_ROLE_ROWS = [("orgs", "0003_email_slug_upper_index")]  # unapplies orgs 0004–0006 (rbac stays)


def _migrate(targets: list[tuple[str, str]] | None = None) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_role_names_become_the_system_roles_rows_and_unknown_names_the_least_privilege() -> None:
    # slow: migrates the schema back and forth (seconds)
    system_roles_ensure()  # the rows that migration 0002 seeded (a previous flush may have removed them)
    try:
        executor = _migrate(BEFORE_ROLE_ROWS)
        executor.loader.build_graph()  # reload what is applied now: every app's latest, orgs at 0003
        old = executor.loader.project_state(list(executor.loader.applied_migrations)).apps
        user_model, org_model = old.get_model("accounts", "User"), old.get_model("orgs", "Organization")
        membership_model, team_model = old.get_model("orgs", "Membership"), old.get_model("orgs", "Team")
        invitation_model = old.get_model("orgs", "Invitation")

        org = org_model.objects.create(name="Legacy", slug="legacy", default_role="viewer")
        other = org_model.objects.create(name="Other", slug="other")  # default_role: the column default
        people = {}
        for name in ("owner", "admin", "viewer", "billing", "bogus"):
            people[name] = user_model.objects.create(email=f"{name}@legacy.example", password="!")
            membership_model.objects.create(organization=org, user=people[name], role=name)
        team_model.objects.create(organization=org, name="Admins", role="admin")
        team_model.objects.create(organization=org, name="Plain", role="")
        team_model.objects.create(organization=org, name="Odd", role="superuser")
        invitation_model.objects.create(organization=org, email="new@legacy.example", role="member",
                                        token_hash="a" * 64, expires_at=timezone.now() + timedelta(days=7))

        _migrate()

        roles = dict(Membership.objects.filter(organization__slug="legacy").values_list("user__email", "role_id"))
        assert roles == {"owner@legacy.example": system_role_id("owner"),
                         "admin@legacy.example": system_role_id("admin"),
                         "viewer@legacy.example": system_role_id("viewer"),
                         "billing@legacy.example": system_role_id("billing"),
                         "bogus@legacy.example": system_role_id("member")}  # unknown → the least privilege
        assert dict(Team.objects.filter(organization__slug="legacy").values_list("name", "role_id")) == {
            "Admins": system_role_id("admin"), "Plain": None, "Odd": None}
        assert Invitation.objects.get(email="new@legacy.example").role_id == system_role_id("member")
        assert Organization.objects.get(pk=org.pk).default_role_id == system_role_id("viewer")
        assert Organization.objects.get(pk=other.pk).default_role_id == system_role_id("member")
        assert Membership.objects.select_related("role").get(user__email="admin@legacy.example").role.name == "admin"
    finally:
        _migrate()  # whatever happened, later tests get the full schema
