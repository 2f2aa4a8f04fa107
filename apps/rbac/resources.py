"""Object types that grants, checks and policies can name as `{type, id}` / `type:id`.

Each type maps to a model with an `organization_id`: a resource is only ever looked up inside the
organization of the check, so naming another tenant's object finds nothing. Apps that come later
(webhooks) register their types in their AppConfig.ready().
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.apps import apps
from django.db import models


@dataclass(frozen=True)
class ResourceType:
    name: str
    model_label: str  # "orgs.Team"

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)


_types: dict[str, ResourceType] = {}


def register(name: str, model_label: str) -> None:
    _types[name] = ResourceType(name=name, model_label=model_label)


def get(name: str) -> ResourceType | None:
    return _types.get(name)


def names() -> list[str]:
    return sorted(_types)


def object_in_organization(type_name: str, object_id: object, organization_id: uuid.UUID) -> models.Model | None:
    """The object if it exists *in this organization*, else None (other tenants' objects are invisible)."""
    resource_type = _types.get(type_name)
    if resource_type is None:
        return None
    try:
        pk = uuid.UUID(str(object_id))
    except (TypeError, ValueError):
        return None
    model = resource_type.model
    if model._meta.label == "orgs.Organization":
        return model.objects.filter(pk=pk, pk__in=[organization_id]).first()
    return model.objects.filter(pk=pk, organization_id=organization_id).first()


register("organization", "orgs.Organization")
register("team", "orgs.Team")
register("role", "rbac.Role")
register("policy", "rbac.Policy")
register("apikey", "rbac.ApiKey")
