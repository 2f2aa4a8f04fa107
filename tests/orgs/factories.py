"""Factories of orgs' models, valid by default; traits for the variants tests need."""

import hashlib
from datetime import timedelta

import factory
from django.utils import timezone

from apps.orgs.models import Invitation, InvitationStatus, Membership, Organization
from apps.orgs.roles import SystemRole
from tests.accounts.factories import UserFactory


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
    role = SystemRole.MEMBER

    class Params:
        owner = factory.Trait(role=SystemRole.OWNER)
        admin = factory.Trait(role=SystemRole.ADMIN)
        viewer = factory.Trait(role=SystemRole.VIEWER)


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation. Pass `token=` to know its link's token (only its SHA-256 is stored)."""

    class Meta:
        model = Invitation
        exclude = ("token",)

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = SystemRole.MEMBER
    token = factory.Sequence(lambda n: f"test-invitation-token-{n}")
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    invited_by = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    class Params:
        expired = factory.Trait(expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1)))
        revoked = factory.Trait(status=InvitationStatus.REVOKED, revoked_at=factory.LazyFunction(timezone.now))
        accepted = factory.Trait(status=InvitationStatus.ACCEPTED, accepted_at=factory.LazyFunction(timezone.now))
