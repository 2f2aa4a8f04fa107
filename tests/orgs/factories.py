"""Factories of orgs' models, valid by default; traits for the variants tests need."""

import hashlib
from datetime import timedelta

import factory
from django.utils import timezone

from apps.orgs.models import Invitation, InvitationStatus, Membership, Organization
from apps.orgs.roles import SystemRole, system_role_id
from tests.accounts.factories import UserFactory


def _role_by_name(kwargs: dict) -> dict:
    """Let tests pass `role="admin"` (a system role's name), as the API does."""
    if isinstance(kwargs.get("role"), str):
        kwargs["role_id"] = system_role_id(kwargs.pop("role"))
    return kwargs


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role_id = system_role_id(SystemRole.MEMBER)

    class Params:
        owner = factory.Trait(role_id=system_role_id(SystemRole.OWNER))
        admin = factory.Trait(role_id=system_role_id(SystemRole.ADMIN))
        viewer = factory.Trait(role_id=system_role_id(SystemRole.VIEWER))

    @classmethod
    def _adjust_kwargs(cls, **kwargs: object) -> dict:
        return _role_by_name(kwargs)


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation. Pass `token=` to know its link's token (only its SHA-256 is stored)."""

    class Meta:
        model = Invitation
        exclude = ("token",)

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role_id = system_role_id(SystemRole.MEMBER)
    token = factory.Sequence(lambda n: f"test-invitation-token-{n}")
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    invited_by = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    class Params:
        expired = factory.Trait(expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1)))
        revoked = factory.Trait(status=InvitationStatus.REVOKED, revoked_at=factory.LazyFunction(timezone.now))
        accepted = factory.Trait(status=InvitationStatus.ACCEPTED, accepted_at=factory.LazyFunction(timezone.now))

    @classmethod
    def _adjust_kwargs(cls, **kwargs: object) -> dict:
        return _role_by_name(kwargs)
