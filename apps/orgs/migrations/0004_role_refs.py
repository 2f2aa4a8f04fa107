"""Roles move to apps.rbac (step 1 of 3): a foreign key next to each role-name column."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orgs", "0003_email_slug_upper_index"), ("rbac", "0002_system_roles")]

    operations = [
        migrations.AddField("membership", "role_ref", models.ForeignKey(
            "rbac.Role", null=True, on_delete=django.db.models.deletion.RESTRICT, related_name="+")),
        migrations.AddField("team", "role_ref", models.ForeignKey(
            "rbac.Role", null=True, on_delete=django.db.models.deletion.RESTRICT, related_name="+")),
        migrations.AddField("invitation", "role_ref", models.ForeignKey(
            "rbac.Role", null=True, on_delete=django.db.models.deletion.RESTRICT, related_name="+")),
        migrations.AddField("organization", "default_role_ref", models.ForeignKey(
            "rbac.Role", null=True, on_delete=django.db.models.deletion.RESTRICT, related_name="+")),
    ]
