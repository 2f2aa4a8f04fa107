import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from apps.audit.models import AuditEvent
from apps.core.crypto import DecryptionFailed
from tests.testapp.models import Secret

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def raw_value(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM testapp_secret WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_values_are_encrypted_at_rest_and_read_back_in_clear(settings) -> None:  # noqa: ANN001
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    secret = Secret.objects.create(label="totp", value="JBSWY3DPEHPK3PXP")
    stored = raw_value(secret.pk)
    assert "JBSWY3DPEHPK3PXP" not in stored
    assert Fernet(OLD).decrypt(stored.encode()) == b"JBSWY3DPEHPK3PXP"
    assert Secret.objects.get(pk=secret.pk).value == "JBSWY3DPEHPK3PXP"


def test_the_same_value_encrypts_differently_each_time(settings) -> None:  # noqa: ANN001
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    a, b = Secret.objects.create(label="a", value="same"), Secret.objects.create(label="b", value="same")
    assert raw_value(a.pk) != raw_value(b.pk)


def test_a_new_key_in_front_still_reads_old_values(settings) -> None:  # noqa: ANN001
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    secret = Secret.objects.create(label="x", value="v1")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert Secret.objects.get(pk=secret.pk).value == "v1"


def test_rotate_field_keys_reencrypts_everything_under_the_newest_key(settings) -> None:  # noqa: ANN001
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    secrets = [Secret.objects.create(label=str(i), value=f"seed-{i}") for i in range(3)]
    Secret.objects.create(label="empty", value=None)

    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_field_keys", "--batch-size", "2")

    for secret in secrets:
        assert Fernet(NEW).decrypt(raw_value(secret.pk).encode()) == f"seed-{secret.label}".encode()
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key can now be removed
    assert [s.value for s in Secret.objects.filter(label__in=["0", "1", "2"]).order_by("label")] == \
        ["seed-0", "seed-1", "seed-2"]
    assert Secret.objects.get(label="empty").value is None
    event = AuditEvent.objects.get(action="security.field_keys_rotated")
    assert event.metadata["columns"]["testapp.Secret.value"] == 3


def test_removing_a_key_before_rotation_fails_loudly(settings) -> None:  # noqa: ANN001
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    secret = Secret.objects.create(label="x", value="v1")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(DecryptionFailed):
        Secret.objects.get(pk=secret.pk)


@pytest.mark.parametrize(("_case", "keys"), [("none", []), ("not a fernet key", ["short"])])
def test_bad_key_configuration_fails_the_system_check(settings, _case: str, keys: list[str]) -> None:  # noqa: ANN001
    from apps.core.checks import check_field_encryption_keys

    settings.FIELD_ENCRYPTION_KEYS = keys
    assert [e.id for e in check_field_encryption_keys(None)] == ["plinto.E002"]
