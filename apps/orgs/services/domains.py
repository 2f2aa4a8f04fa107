"""Domains an organization claims, their DNS verification, and auto-join of users of a verified domain.

Verification: the organization publishes `plinto-verification=<token>` as a TXT record at
`_plinto-challenge.<domain>`; `domain_verify` looks it up through `apps.orgs.dns.resolver()`. A domain
is verified by at most one organization (database constraint).

Auto-join: on `user.signed_up` and `user.email_verified` (the event stream, after commit), a user whose
primary e-mail address is verified and belongs to a verified `auto_join` domain joins that organization
with its `default_role`. An unverified address never joins anyone: whoever typed it may not own it.
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.audit import subscribers
from apps.audit.services import emit
from apps.core.errors import ApplicationError, Conflict, ResourceNotFound
from apps.orgs import dns as org_dns
from apps.orgs.errors import AlreadyMember
from apps.orgs.models import Domain, Membership, MembershipStatus, Organization
from apps.orgs.services.organizations import member_add

if TYPE_CHECKING:
    from apps.audit.models import AuditEvent

logger = logging.getLogger(__name__)

TXT_RECORD_PREFIX = "_plinto-challenge."
TXT_VALUE_PREFIX = "plinto-verification="
AUTO_JOIN_SOURCE = "domain_auto_join"
AUTO_JOIN_EVENTS = frozenset({"user.signed_up", "user.email_verified"})

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_FORBIDDEN = re.compile(r"[\s/\\?#@:%*\[\]]")


class DomainNotFound(ResourceNotFound):
    title = "Domain not found"


class DomainExists(Conflict):
    code, title = "domain_exists", "Domain already added"


class DomainTaken(Conflict):
    code, title = "domain_taken", "Domain verified by another organization"


class DomainVerificationFailed(ApplicationError):
    status, code, title = 400, "verification_failed", "Verification record not found"


# Names ---------------------------------------------------------------------------------------------

def _invalid(message: str) -> ValidationError:
    return ValidationError({"domain": [ValidationError(message, code="invalid")]})


def domain_normalize(raw: str) -> str:
    """A bare host name in lowercase ASCII (IDNA A-labels), e.g. "Bücher.DE." → "xn--bcher-kva.de"."""
    value = raw.strip().lower()
    if "://" in value:
        raise _invalid("Give the bare domain, without a scheme (example.com, not https://example.com).")
    if _FORBIDDEN.search(value):
        raise _invalid("Give the bare domain: no path, port, address or spaces.")
    value = value.removesuffix(".")
    try:
        ascii_name = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise _invalid("Not a valid domain name (empty or over-long label, or characters IDNA cannot encode).") \
            from None
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise _invalid("A domain has at least one dot (example.com).")
    if len(ascii_name) > 253:
        raise _invalid("A domain has at most 253 characters.")
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _invalid("Not a valid domain name: letters, digits and inner hyphens only, no IP address.")
    return ascii_name


def txt_record_name(domain: Domain) -> str:
    return f"{TXT_RECORD_PREFIX}{domain.domain}"


def txt_record_value(domain: Domain) -> str:
    return f"{TXT_VALUE_PREFIX}{domain.verification_token}"


def _email_domain(email: str) -> str | None:
    _, _, host = email.rpartition("@")
    try:
        return domain_normalize(host) if host else None
    except ValidationError:
        return None


# Reads ---------------------------------------------------------------------------------------------

def domain_get_for_user(*, domain_id: object, user: User) -> Domain:
    """A domain of one of the user's live organizations; 404 for unknown ids and other tenants' alike."""
    try:
        pk = uuid.UUID(str(domain_id))
    except (ValueError, TypeError):
        pk = None
    domain = None
    if pk is not None and user.is_authenticated:
        domain = (Domain.objects.select_related("organization")
                  .filter(pk=pk, organization__deleted_at__isnull=True, organization__memberships__user=user,
                          organization__memberships__status=MembershipStatus.ACTIVE).first())
    if domain is None:
        raise DomainNotFound("No such domain.")
    return domain


def domain_get_in_organization(*, domain_id: object, organization_id: object) -> Domain:
    """A domain of this live organization (an API key's); 404 for unknown ids and other tenants' alike."""
    try:
        pk = uuid.UUID(str(domain_id))
    except (ValueError, TypeError):
        pk = None
    domain = (Domain.objects.select_related("organization")
              .filter(pk=pk, organization_id=organization_id, organization__deleted_at__isnull=True).first()
              if pk is not None else None)
    if domain is None:
        raise DomainNotFound("No such domain.")
    return domain


def domain_list(*, organization: Organization) -> QuerySet[Domain]:
    return Domain.objects.filter(organization=organization)


# Writes --------------------------------------------------------------------------------------------

@transaction.atomic
def domain_add(*, organization: Organization, actor: User, domain: str, auto_join: bool = False) -> Domain:
    row = Domain(organization=organization, domain=domain_normalize(domain), auto_join=auto_join,
                 verification_token=secrets.token_urlsafe(32))
    row.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise DomainExists(f"{row.domain} is already added to this organization.") from None
    emit(action="domain.added", actor=actor, organization_id=organization.pk, target=row,
         metadata={"domain": row.domain})
    return row


def _taken_elsewhere(domain: Domain) -> bool:
    return Domain.objects.filter(domain=domain.domain, verified_at__isnull=False).exclude(pk=domain.pk).exists()


@transaction.atomic
def domain_verify(*, domain: Domain, actor: User) -> Domain:
    """Look up the TXT record; verified once found. Verifying a verified domain again changes nothing."""
    if domain.verified_at is not None:
        return domain
    if _taken_elsewhere(domain):
        raise DomainTaken(f"{domain.domain} is verified by another organization.")
    name, expected = txt_record_name(domain), txt_record_value(domain)
    published = [value.strip() for value in org_dns.resolver().txt(name)]
    if expected not in published:
        raise DomainVerificationFailed(f"No TXT record {expected!r} at {name} yet. DNS changes can take a while "
                                       "to propagate; try again later.",
                                       extra={"txt_record": {"name": name, "value": expected}})
    domain = Domain.objects.select_for_update().select_related("organization").get(pk=domain.pk)
    if domain.verified_at is not None:  # a concurrent call won
        return domain
    domain.verified_at = timezone.now()
    try:
        with transaction.atomic():
            domain.save(update_fields=["verified_at", "updated_at"])
    except IntegrityError:  # another organization verified it meanwhile
        raise DomainTaken(f"{domain.domain} is verified by another organization.") from None
    emit(action="domain.verified", actor=actor, organization_id=domain.organization_id, target=domain,
         metadata={"domain": domain.domain})
    return domain


@transaction.atomic
def domain_update(*, domain: Domain, actor: User, auto_join: bool) -> Domain:
    if domain.auto_join == auto_join:
        return domain
    changes = {"auto_join": [domain.auto_join, auto_join]}
    domain.auto_join = auto_join
    domain.save(update_fields=["auto_join", "updated_at"])
    emit(action="domain.updated", actor=actor, organization_id=domain.organization_id, target=domain,
         changes=changes, metadata={"domain": domain.domain})
    return domain


@transaction.atomic
def domain_remove(*, domain: Domain, actor: User) -> None:
    emit(action="domain.removed", actor=actor, organization_id=domain.organization_id, target=domain,
         metadata={"domain": domain.domain})
    domain.delete()


# Auto-join -----------------------------------------------------------------------------------------

def domains_auto_join(user: User) -> list[Membership]:
    """Join `user` to every organization with a verified auto_join domain equal to their e-mail's domain.

    Only when the user's primary address is verified; already a member → skipped. Each organization
    stands alone: one that refuses (e.g. its default role no longer exists) is logged and skipped.
    """
    from apps.accounts.services.signin import email_is_verified

    host = _email_domain(user.email or "")
    if not user.is_active or host is None or not email_is_verified(user):
        return []
    domains = (Domain.objects.select_related("organization")
               .filter(domain=host, auto_join=True, verified_at__isnull=False,
                       organization__deleted_at__isnull=True)
               .exclude(organization__memberships__user=user).order_by("created_at"))
    joined: list[Membership] = []
    for domain in domains:
        organization = domain.organization
        try:
            joined.append(member_add(organization=organization, user=user, role=organization.default_role,
                                     actor=None, source=AUTO_JOIN_SOURCE))
        except AlreadyMember:
            continue
        except ApplicationError as exc:
            logger.warning("auto-join of user %s to organization %s refused: %s", user.pk, organization.pk, exc)
    return joined


def domain_auto_join_on_event(event: AuditEvent) -> None:
    """Event-stream subscriber (on commit): sign-up or a verified address may mean auto-join."""
    if event.action not in AUTO_JOIN_EVENTS or event.target_type != "user":
        return
    user = User.objects.filter(pk=event.target_id).first()
    if user is not None:
        domains_auto_join(user)


subscribers.subscribe(domain_auto_join_on_event)
