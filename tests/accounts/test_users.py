import uuid

import pytest
from django.db import IntegrityError, transaction

from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_users_have_uuid_ids_and_sign_in_by_email_without_username() -> None:
    user = User.objects.create_user("Ada@Example.COM", "a long passphrase")
    assert isinstance(user.pk, uuid.UUID)
    assert user.email == "Ada@example.com"  # domain normalised, local part kept as typed
    assert User.USERNAME_FIELD == "email" and not hasattr(user, "username")
    assert User.objects.get_by_natural_key("ADA@example.com") == user


def test_email_is_unique_case_insensitively() -> None:
    User.objects.create_user("bob@example.com", "pw-123456789")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="BOB@example.com")


def test_user_create_is_audited_without_the_password() -> None:
    user = user_create(email="carol@example.com", password="a long passphrase", source="api")
    event = AuditEvent.objects.get(action="user.created")
    assert event.target_id == str(user.pk)
    assert event.changes["email"] == [None, "carol@example.com"]
    assert "password" not in event.changes and "a long passphrase" not in str(event.metadata)
