"""Roles move to apps.rbac (step 3 of 3): the foreign keys take the role columns' place."""

import django.db.models.deletion
from django.db import migrations, models

import apps.orgs.roles


class Migration(migrations.Migration):
    dependencies = [("orgs", "0005_role_refs_data")]

    operations = [
        migrations.RemoveField("membership", "role"),
        migrations.RemoveField("team", "role"),
        migrations.RemoveField("invitation", "role"),
        migrations.RemoveField("organization", "default_role"),
        migrations.RenameField("membership", "role_ref", "role"),
        migrations.RenameField("team", "role_ref", "role"),
        migrations.RenameField("invitation", "role_ref", "role"),
        migrations.RenameField("organization", "default_role_ref", "default_role"),
        migrations.AlterField("membership", "role", models.ForeignKey(
            "rbac.Role", default=apps.orgs.roles.default_member_role_id,
            on_delete=django.db.models.deletion.RESTRICT, related_name="memberships")),
        migrations.AlterField("team", "role", models.ForeignKey(
            "rbac.Role", blank=True, help_text="A role every member of the team also holds.", null=True,
            on_delete=django.db.models.deletion.RESTRICT, related_name="teams")),
        migrations.AlterField("invitation", "role", models.ForeignKey(
            "rbac.Role", on_delete=django.db.models.deletion.RESTRICT, related_name="invitations")),
        migrations.AlterField("organization", "default_role", models.ForeignKey(
            "rbac.Role", default=apps.orgs.roles.default_member_role_id,
            help_text="The role of members who join by a verified domain.",
            on_delete=django.db.models.deletion.RESTRICT, related_name="+")),
    ]
