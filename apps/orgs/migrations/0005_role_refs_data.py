"""Roles move to apps.rbac (step 2 of 3): each role name becomes the id of the system role of that name.

Until now only the five system role names could be stored. A name that is not one of them (hand-edited
rows) becomes "member" for memberships, invitations and default roles and "no role" for teams: the
least privilege that keeps the row valid; the count is printed.
"""

import uuid

from django.db import migrations

_NAMESPACE = uuid.UUID("6f1c1b1e-7a43-4d4f-9d1e-2f5b5e0c0a11")  # = apps.orgs.roles._NAMESPACE, frozen here
SYSTEM = ("owner", "admin", "member", "viewer", "billing")


def _id(name):
    return uuid.uuid5(_NAMESPACE, f"plinto.role.{name}")


def forwards(apps, schema_editor):
    unknown = 0
    for model_name, old, new, fallback in (("Membership", "role", "role_ref", "member"),
                                           ("Invitation", "role", "role_ref", "member"),
                                           ("Organization", "default_role", "default_role_ref", "member"),
                                           ("Team", "role", "role_ref", None)):
        model = apps.get_model("orgs", model_name)
        for name in SYSTEM:
            model.objects.filter(**{old: name}).update(**{new: _id(name)})
        rest = model.objects.filter(**{f"{new}__isnull": True})
        if fallback is None:
            unknown += rest.exclude(**{old: ""}).count()
        else:
            unknown += rest.count()
            rest.update(**{new: _id(fallback)})
    if unknown:
        print(f"\n  orgs.0005: {unknown} row(s) named no system role and got the least privilege.")


def backwards(apps, schema_editor):
    names = {_id(name): name for name in SYSTEM}
    for model_name, old, new in (("Membership", "role", "role_ref"), ("Invitation", "role", "role_ref"),
                                 ("Organization", "default_role", "default_role_ref"), ("Team", "role", "role_ref")):
        model = apps.get_model("orgs", model_name)
        for role_id, name in names.items():
            model.objects.filter(**{new: role_id}).update(**{old: name})
        # Custom roles did not exist before: their holders fall back to the least privilege.
        model.objects.exclude(**{f"{new}__in": list(names)}).exclude(**{f"{new}__isnull": True}).update(
            **{old: "" if model_name == "Team" else "member"})


class Migration(migrations.Migration):
    dependencies = [("orgs", "0004_role_refs")]
    operations = [migrations.RunPython(forwards, backwards)]
