"""User import for migrations, through `manage.py import_users`, the admin action and sign-in.

The fixtures hold real hashes (low cost) of known passwords: "<first name> old password <n>" below.
"""

from io import StringIO
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.test import Client

from apps.accounts import importers
from apps.accounts.importers import HashRejected, password_hash_convert
from apps.accounts.models import User
from apps.audit.models import AuditEvent
from plinto.settings import base as base_settings
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def production_hashers(settings) -> None:  # noqa: ANN001
    settings.PASSWORD_HASHERS = base_settings.PASSWORD_HASHERS


def run_import(path: Path, fmt: str, *args: str) -> str:
    out = StringIO()
    call_command("import_users", str(path), "--format", fmt, *args, stdout=out)
    return out.getvalue()


def lines(output: str) -> list[str]:
    return output.strip().splitlines()


def primary_address(email: str) -> EmailAddress:
    return EmailAddress.objects.get(email__iexact=email, primary=True)


def counts() -> tuple[int, int, int]:
    return User.objects.count(), EmailAddress.objects.count(), AuditEvent.objects.count()


# --- formats ----------------------------------------------------------------------------------------


def test_auth0_json_lines_export_imports_names_verified_flags_blocked_state_and_hashes() -> None:
    output = run_import(FIXTURES / "auth0_users.jsonl", "auth0")

    assert [line.split(" ")[:5] for line in lines(output)[:4]] == [
        ["row", "1:", "ada@example.com", "ok", "created"],
        ["row", "2:", "Grace@Example.com", "ok", "created"],
        ["row", "3:", "linus@example.com", "ok", "created"],
        ["row", "4:", "margaret@example.com", "ok", "created"],
    ]
    assert lines(output)[-1] == "4 rows: 4 created, 0 skipped, 0 failed"
    ada = User.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.display_name) == ("Ada", "Lovelace", "Ada Lovelace")
    assert ada.password.startswith("bcrypt$$2a$04$")
    grace = User.objects.get(email__iexact="grace@example.com")
    assert grace.email == "Grace@example.com"  # domain normalised, as at sign-up
    assert grace.display_name == ""  # Auth0's `name` was only the e-mail
    assert grace.password.startswith("argon2$argon2id$v=19$m=1024,t=1,p=1$")
    assert User.objects.get(email="linus@example.com").password.startswith("pbkdf2_imported$sha512$1000$")
    assert (primary_address("ada@example.com").verified, primary_address("grace@example.com").verified) == (True, False)
    assert primary_address("grace@example.com").email == "grace@example.com"
    margaret = User.objects.get(email="margaret@example.com")
    assert margaret.is_active is False  # blocked in Auth0 stays unable to sign in
    assert margaret.has_usable_password() is False


def test_auth0_json_array_export_is_read_too() -> None:
    output = run_import(FIXTURES / "auth0_users.json", "auth0")
    assert lines(output)[-1] == "2 rows: 2 created, 0 skipped, 0 failed"
    assert primary_address("ken@example.com").verified is True
    assert User.objects.get(email="dennis@example.com").has_usable_password() is False


def test_clerk_csv_export_imports_every_supported_hasher() -> None:
    output = run_import(FIXTURES / "clerk_users.csv", "clerk")

    assert lines(output)[-1] == "6 rows: 6 created, 0 skipped, 0 failed"
    algorithms = dict(User.objects.values_list("email", "password"))
    assert algorithms["alan@example.com"].startswith("bcrypt$$2b$04$")
    assert algorithms["barbara@example.com"].startswith("argon2$argon2i$")
    assert algorithms["edsger@example.com"].startswith("pbkdf2_imported$sha256$1000$")  # base64 salt
    assert algorithms["john@example.com"].startswith("pbkdf2_sha256$1000$seasalt2024")  # Django's own format
    assert algorithms["user1@test.com"].startswith("firebase_scrypt$8$14$")
    assert User.objects.get(email="frances@example.com").has_usable_password() is False
    verified = dict(EmailAddress.objects.values_list("email", "verified"))
    assert verified == {"alan@example.com": True, "barbara@example.com": False, "edsger@example.com": True,
                        "user1@test.com": False, "john@example.com": True, "frances@example.com": True}
    alan = User.objects.get(email="alan@example.com")
    assert (alan.first_name, alan.last_name) == ("Alan", "Turing")


def test_generic_csv_imports_names_verified_flags_and_hashes() -> None:
    output = run_import(FIXTURES / "users.csv", "csv")

    assert lines(output)[-1] == "5 rows: 5 created, 0 skipped, 0 failed"
    verified = dict(EmailAddress.objects.values_list("email", "verified"))
    assert verified == {"barbara.j@example.com": True, "donald@example.com": True, "guido@example.com": True,
                        "tim@example.com": False, "radia@example.com": False}
    assert User.objects.get(email="donald@example.com").password.startswith("bcrypt_sha256$$2b$04$")
    assert User.objects.get(email="guido@example.com").last_name == "van Rossum"


@pytest.mark.parametrize(("fixture", "fmt", "email", "password"), [
    ("auth0_users.jsonl", "auth0", "ada@example.com", "ada old password 1"),  # bcrypt $2a$
    ("auth0_users.jsonl", "auth0", "GRACE@example.com", "grace old password 2"),  # argon2id
    ("auth0_users.jsonl", "auth0", "linus@example.com", "linus old password 3"),  # pbkdf2-sha512, 64-byte key
    ("auth0_users.json", "auth0", "ken@example.com", "ken old password 4"),  # bcrypt
    ("clerk_users.csv", "clerk", "alan@example.com", "alan old password 5"),  # bcrypt
    ("clerk_users.csv", "clerk", "barbara@example.com", "barbara old password 6"),  # argon2i
    ("clerk_users.csv", "clerk", "edsger@example.com", "edsger old password 7"),  # pbkdf2_sha256, base64 salt
    ("clerk_users.csv", "clerk", "john@example.com", "john old password 8"),  # pbkdf2_sha256_django
    ("clerk_users.csv", "clerk", "user1@test.com", "user1password"),  # Firebase scrypt, published vector
    ("users.csv", "csv", "barbara.j@example.com", "barbara j old password 9"),  # bcrypt
    ("users.csv", "csv", "donald@example.com", "donald old password 10"),  # Django bcrypt_sha256
    ("users.csv", "csv", "guido@example.com", "guido old password 11"),  # Django pbkdf2_sha256
    ("users.csv", "csv", "tim@example.com", "tim old password 12"),  # argon2id
])
def test_imported_users_sign_in_with_their_old_password_and_get_argon2id(settings, fixture: str, fmt: str,  # noqa: ANN001
                                                                       email: str, password: str) -> None:
    run_import(FIXTURES / fixture, fmt)
    assert authenticate(None, username=email, password=password + "x") is None

    user = authenticate(None, username=email, password=password)

    assert user is not None and user.email.lower() == email.lower()
    params = settings.PASSWORD_ARGON2
    prefix = f"argon2$argon2id$v=19$m={params['memory_cost']},t={params['time_cost']},p={params['parallelism']}$"
    assert User.objects.get(pk=user.pk).password.startswith(prefix)
    assert authenticate(None, username=email, password=password) == user


def test_users_without_a_password_hash_cannot_sign_in_with_any_password() -> None:
    run_import(FIXTURES / "clerk_users.csv", "clerk")
    assert authenticate(None, username="frances@example.com", password="") is None
    assert authenticate(None, username="frances@example.com", password="anything at all") is None


# --- dry run, re-runs, bad rows ---------------------------------------------------------------------


def test_dry_run_checks_every_row_and_writes_nothing() -> None:
    before = counts()

    output = run_import(FIXTURES / "clerk_users.csv", "clerk", "--dry-run")

    assert counts() == before
    assert lines(output)[0] == "row 1: alan@example.com ok would_create"
    assert lines(output)[-1] == "6 rows: 6 would be created, 0 skipped, 0 failed (dry run: nothing was written)"


def test_dry_run_reports_bad_rows_and_exits_non_zero_without_writing() -> None:
    before = counts()
    out = StringIO()
    with pytest.raises(CommandError, match="5 row"):
        call_command("import_users", str(FIXTURES / "users_with_bad_rows.csv"), "--format", "csv", "--dry-run",
                     stdout=out)
    assert counts() == before
    assert "row 1: first.good@example.com ok would_create" in lines(out.getvalue())


def test_running_the_same_file_again_skips_everyone_and_writes_nothing() -> None:
    run_import(FIXTURES / "users.csv", "csv")
    before = counts()

    output = run_import(FIXTURES / "users.csv", "csv")

    assert counts() == before
    assert lines(output)[0] == "row 1: barbara.j@example.com skipped exists: a user with this e-mail already exists"
    assert lines(output)[-1] == "5 rows: 0 created, 5 skipped, 0 failed"


def test_an_existing_user_is_skipped_case_insensitively_and_left_untouched() -> None:
    existing = UserFactory(email="ADA@example.com", first_name="Countess")
    password = User.objects.get(pk=existing.pk).password

    output = run_import(FIXTURES / "auth0_users.jsonl", "auth0")

    assert "row 1: ada@example.com skipped exists: a user with this e-mail already exists" in lines(output)
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1
    existing.refresh_from_db()
    assert (existing.first_name, existing.password) == ("Countess", password)


def test_bad_rows_are_reported_per_row_while_good_rows_land() -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="5 row"):
        call_command("import_users", str(FIXTURES / "users_with_bad_rows.csv"), "--format", "csv", stdout=out)

    report = lines(out.getvalue())
    assert [" ".join(line.split(" ")[:5]).rstrip(":") for line in report[:-1]] == [
        "row 1: first.good@example.com ok created",
        "row 2: not-an-email error invalid_email",
        "row 3: md5@example.com error unsupported_hasher",
        "row 4: truncated@example.com error malformed_hash",
        "row 5: maybe@example.com error invalid_field",
        "row 6: long.name@example.com error invalid_field",
        "row 7: second.good@example.com ok created",
        "row 8: FIRST.GOOD@example.com skipped duplicate",
    ]
    assert report[-1] == "8 rows: 2 created, 1 skipped, 5 failed"
    assert report[0].endswith(str(User.objects.get(email="first.good@example.com").pk))
    assert "md5 is not supported" in report[2] and "'maybe' is not true or false" in report[4]
    assert "first_name" in report[5]
    assert sorted(User.objects.values_list("email", flat=True)) == ["first.good@example.com", "second.good@example.com"]
    assert EmailAddress.objects.count() == 2
    assert AuditEvent.objects.filter(action="user.created").count() == 2


def test_a_row_failing_inside_its_transaction_leaves_nothing_of_that_user(monkeypatch) -> None:  # noqa: ANN001
    real_record_created = importers.user_record_created

    def record_created(*, user: User, **kwargs: object) -> None:
        if user.email == "donald@example.com":  # after the user and address rows were written
            raise IntegrityError("simulated constraint violation")
        real_record_created(user=user, **kwargs)

    monkeypatch.setattr(importers, "user_record_created", record_created)
    out = StringIO()
    with pytest.raises(CommandError, match="1 row"):
        call_command("import_users", str(FIXTURES / "users.csv"), "--format", "csv", stdout=out)

    assert "row 2: donald@example.com error conflict: simulated constraint violation" in lines(out.getvalue())
    assert not User.objects.filter(email="donald@example.com").exists()
    assert not EmailAddress.objects.filter(email="donald@example.com").exists()
    assert User.objects.count() == 4


def test_a_malformed_json_line_is_reported_and_the_other_lines_imported(tmp_path: Path) -> None:
    export = tmp_path / "users.jsonl"
    export.write_text('{"email": "first@example.com"}\n{"email": "broken@exa\n\n["not", "an object"]\n'
                      '{"email": "last@example.com", "email_verified": "true"}\n')
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("import_users", str(export), "--format", "auth0", stdout=out)

    assert lines(out.getvalue())[1:3] == ["row 2: - error malformed_row: not valid JSON",
                                          "row 3: - error malformed_row: not a JSON object"]
    assert primary_address("last@example.com").verified is True
    assert User.objects.filter(email="first@example.com").exists()


@pytest.mark.parametrize(("_case", "content", "message"), [
    ("no e-mail column", b"mail,first_name\nada@example.com,Ada\n", "missing column(s): email"),
    ("not UTF-8", b"email\n\xff\xfeada@example.com\n", "not UTF-8"),
    ("empty", b"", "the file is empty"),
])
def test_an_unreadable_file_fails_before_writing_anything(tmp_path: Path, _case: str, content: bytes,  # noqa: PT019
                                                          message: str) -> None:
    export = tmp_path / "users.csv"
    export.write_bytes(content)
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_import(export, "csv")
    assert User.objects.count() == 0


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        run_import(tmp_path / "nope.csv", "csv")


# --- audit ------------------------------------------------------------------------------------------


def test_each_imported_user_is_audited_as_created_by_import() -> None:
    run_import(FIXTURES / "clerk_users.csv", "clerk")

    alan = User.objects.get(email="alan@example.com")
    created = AuditEvent.objects.get(action="user.created", target_id=str(alan.pk))
    assert created.metadata == {"source": "import"}
    assert created.actor_type == "system"
    assert "password" not in created.changes
    imported = AuditEvent.objects.get(action="user.imported", target_id=str(alan.pk))
    assert imported.metadata == {"source": "clerk", "hasher": "bcrypt", "external_id": "user_alan"}
    assert AuditEvent.objects.filter(action="user.created").count() == 6


# --- hash conversion --------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "hasher", "digest", "encoded"), [
    ("auth0", "bcrypt", "$2b$12$" + "a" * 53, "bcrypt$$2b$12$" + "a" * 53),
    ("clerk", "bcrypt", "$2y$10$" + "a" * 53, "bcrypt$$2y$10$" + "a" * 53),
    ("auth0", "argon2", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
     "argon2$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g"),
    ("csv", "pbkdf2_sha256", "pbkdf2_sha256$0600000$salt$" + "A" * 43,  # Django re-encodes the exact string
     "pbkdf2_sha256$600000$salt$" + "A" * 43 + "="),
    ("csv", "pbkdf2", "$pbkdf2-sha256$i=1000,l=4$c2FsdA$AQIDBA", "pbkdf2_imported$sha256$1000$c2FsdA$AQIDBA"),
])
def test_foreign_hashes_are_converted_to_django_encoding(fmt: str, hasher: str, digest: str, encoded: str) -> None:
    assert password_hash_convert(fmt=fmt, hasher=hasher, digest=digest) == encoded


@pytest.mark.parametrize(("fmt", "hasher", "digest", "code"), [
    ("csv", "md5", "5f4dcc3b5aa765d61d8327deb882cf99", "unsupported_hasher"),
    ("clerk", "", "$2b$10$" + "a" * 53, "unsupported_hasher"),
    ("csv", "bcrypt", "$2x$10$" + "a" * 53, "malformed_hash"),
    ("csv", "bcrypt", "$2b$31$" + "a" * 53, "unsupported_hasher"),  # hours per sign-in
    ("auth0", "argon2", "$argon2id$v=19$m=65536,t=3$c2FsdA$aGFzaA", "malformed_hash"),
    ("auth0", "argon2", "$argon2id$v=19$m=8388608,t=3,p=4$c2FsdA$aGFzaA", "unsupported_hasher"),  # 8 GiB
    ("auth0", "pbkdf2", "$pbkdf2-sha256$i=1000,l=64$c2FsdA$AQIDBA", "malformed_hash"),  # l= disagrees
    ("auth0", "pbkdf2", "$pbkdf2-md5$i=1000$c2FsdA$AQIDBA", "unsupported_hasher"),
    ("csv", "pbkdf2", "$pbkdf2-sha256$i=1000$c2F*dA$AQIDBA", "malformed_hash"),
    ("csv", "firebase_scrypt", "aGFzaA$c2FsdA$a2V5$Bw==$8$14", "malformed_hash"),  # hash and key too short
    ("csv", "firebase_scrypt", "A" * 88 + "$c2FsdA$" + "B" * 88 + "$Bw==$8$20", "unsupported_hasher"),
])
def test_unsupported_or_malformed_hashes_are_rejected_with_a_code(fmt: str, hasher: str, digest: str,
                                                                  code: str) -> None:
    with pytest.raises(HashRejected) as rejected:
        password_hash_convert(fmt=fmt, hasher=hasher, digest=digest)
    assert rejected.value.code == code


# --- admin action -----------------------------------------------------------------------------------




def admin_import(client: Client, operator: User, *, fmt: str, fixture: str, dry_run: bool) -> list[str]:
    selection = {"action": "users_import_admin_action", "_selected_action": [str(operator.pk)]}
    form = client.post("/admin/accounts/user/", {**selection, "index": "0"})
    assert form.status_code == 200 and 'name="file"' in form.content.decode()
    upload = SimpleUploadedFile(fixture, (FIXTURES / fixture).read_bytes())
    data = {**selection, "users_import": "1", "format": fmt, "file": upload} | ({"dry_run": "on"} if dry_run else {})
    response = client.post("/admin/accounts/user/", data, follow=True)
    assert response.redirect_chain[-1][1] == 302
    return [str(message) for message in response.context["messages"]]


def test_admin_action_imports_an_uploaded_export_as_the_operator(admin_client: Client, operator: User) -> None:
    messages = admin_import(admin_client, operator, fmt="csv", fixture="users_with_bad_rows.csv", dry_run=False)

    assert messages[0] == "8 rows: 2 created, 1 skipped, 5 failed"
    assert messages[1].startswith("row 2: not-an-email error invalid_email")
    assert len(messages) == 6  # the summary and one line per failed row
    created = User.objects.get(email="first.good@example.com")
    event = AuditEvent.objects.get(action="user.created", target_id=str(created.pk))
    assert (event.actor_id, event.metadata) == (str(operator.pk), {"source": "import"})


def test_admin_action_dry_run_writes_nothing(admin_client: Client, operator: User) -> None:
    before = counts()
    messages = admin_import(admin_client, operator, fmt="clerk", fixture="clerk_users.csv", dry_run=True)
    assert messages == ["6 rows: 6 would be created, 0 skipped, 0 failed (dry run: nothing was written)"]
    assert counts() == before


def test_admin_action_shows_an_unreadable_file_on_the_form(admin_client: Client, operator: User) -> None:
    response = admin_client.post("/admin/accounts/user/", {
        "action": "users_import_admin_action", "_selected_action": [str(operator.pk)], "users_import": "1",
        "format": "auth0", "file": SimpleUploadedFile("users.json", b"[{broken"),
    })
    assert response.status_code == 200
    assert "not a valid JSON array" in response.content.decode()
    assert User.objects.count() == 1
