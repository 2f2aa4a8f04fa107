"""User import for migrations: Auth0, Clerk and generic CSV exports, password hashes included.

`rows_parse` reads an export into `ImportRow`s, each with its password hash already converted to
Django's encoded form (verified by apps.accounts.hashers and re-hashed to Argon2id at the user's
next sign-in) or with the code of the reason it cannot be imported. `users_import` writes the rows,
each in its own transaction, and reports every one: a bad row never leaves a half-created user, and
re-running a file skips the e-mails that already exist. Interfaces: `manage.py import_users` and the
admin action `users_import_admin_action` below.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.hashers import get_hashers_by_algorithm, make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template import engines
from django.template.response import TemplateResponse

from apps.accounts.hashers import (
    FIREBASE_MAX_MEM_COST,
    FIREBASE_MAX_ROUNDS,
    PBKDF2_DIGESTS,
    PBKDF2_MAX_ITERATIONS,
    b64decode_lenient,
    firebase_scrypt_encode,
    pbkdf2_imported_encode,
)
from apps.accounts.models import User
from apps.accounts.services import user_record_created
from apps.audit.services import emit

PASSWORD_COLUMN_LENGTH = 128  # AbstractBaseUser.password
BCRYPT_MAX_COST = 16  # each sign-in pays the imported cost until the re-hash; refuse absurd ones
ARGON2_MAX_MEMORY_KIB = 1024 * 1024
ARGON2_MAX_TIME_COST = 64
ARGON2_MAX_PARALLELISM = 64


class ImportFormat(models.TextChoices):
    AUTH0 = "auth0", "Auth0 export (JSON array or JSON lines)"
    CLERK = "clerk", "Clerk dashboard CSV export"
    CSV = "csv", "CSV: email, first_name, last_name, email_verified, password_hash, password_hasher"


class RowStatus(models.TextChoices):
    OK = "ok"
    SKIPPED = "skipped"
    ERROR = "error"


class RowCode(models.TextChoices):
    CREATED = "created"
    WOULD_CREATE = "would_create"  # dry run
    EXISTS = "exists"  # a user (or an address of one) has this e-mail already
    DUPLICATE = "duplicate"  # an earlier row of the same file has this e-mail
    MALFORMED_ROW = "malformed_row"
    INVALID_EMAIL = "invalid_email"
    INVALID_FIELD = "invalid_field"
    UNSUPPORTED_HASHER = "unsupported_hasher"
    MALFORMED_HASH = "malformed_hash"
    CONFLICT = "conflict"  # the database refused the row


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not UTF-8, not JSON, required columns missing)."""


class HashRejected(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ImportRow:
    row: int  # 1-based position of the record in the file (the header of a CSV is not counted)
    email: str
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    email_verified: bool = False
    is_active: bool = True
    password: str | None = None  # Django-encoded hash; None: no usable password (reset or social sign-in)
    external_id: str = ""  # the user's id in the source system
    error: str = ""  # RowCode when the record itself cannot be imported
    detail: str = ""


@dataclass(frozen=True)
class RowResult:
    row: int
    email: str
    status: str  # RowStatus
    code: str  # RowCode
    detail: str = ""
    user_id: str = ""


# --- password hashes --------------------------------------------------------------------------------

_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_ARGON2 = re.compile(r"^\$argon2(?:id|i|d)\$v=(?:16|19)\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")
_PBKDF2_PHC = re.compile(r"^\$pbkdf2-([a-z0-9]+)\$i=(\d+)(?:,l=(\d+))?\$([^$]+)\$([^$]+)$")


def _malformed(detail: str) -> HashRejected:
    return HashRejected(RowCode.MALFORMED_HASH, detail)


def _unsupported(detail: str) -> HashRejected:
    return HashRejected(RowCode.UNSUPPORTED_HASHER, detail)


def _b64(value: str, what: str) -> bytes:
    try:
        raw = b64decode_lenient(value)
    except ValueError:
        raise _malformed(f"{what} is not base64") from None
    if not raw:
        raise _malformed(f"{what} is empty")
    return raw


def _bcrypt(digest: str) -> str:
    """`$2a$`, `$2b$` or `$2y$` (identical for passwords without the 2011 crypt_blowfish bug), as-is."""
    digest = digest.removeprefix("bcrypt$")
    match = _BCRYPT.match(digest)
    if not match:
        raise _malformed("expected a bcrypt hash: $2a$, $2b$ or $2y$, a 2-digit cost, 53 characters")
    if not 4 <= int(match[1]) <= BCRYPT_MAX_COST:
        raise _unsupported(f"bcrypt cost {int(match[1])} is outside 4-{BCRYPT_MAX_COST}")
    return f"bcrypt${digest}"


def _bcrypt_sha256_django(digest: str) -> str:
    if not digest.startswith("bcrypt_sha256$"):
        raise _malformed("expected Django's bcrypt_sha256$$2b$… hash")
    return "bcrypt_sha256$" + _bcrypt(digest.removeprefix("bcrypt_sha256$")).removeprefix("bcrypt$")


def _argon2(digest: str) -> str:
    """PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (or Django's `argon2$argon2id$…`)."""
    phc = digest.removeprefix("argon2") if digest.startswith("argon2$") else digest
    match = _ARGON2.match(phc)
    if not match:
        raise _malformed("expected an Argon2 PHC string: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>")
    memory_cost, time_cost, parallelism = (int(group) for group in match.groups())
    if not (memory_cost <= ARGON2_MAX_MEMORY_KIB and 1 <= time_cost <= ARGON2_MAX_TIME_COST
            and 1 <= parallelism <= ARGON2_MAX_PARALLELISM and memory_cost >= 8 * parallelism):
        raise _unsupported(f"Argon2 parameters out of range: m={memory_cost}, t={time_cost}, p={parallelism}")
    return f"argon2{phc}"


def _pbkdf2(digest_name: str, iterations: int, salt: bytes, key: bytes) -> str:
    if digest_name not in PBKDF2_DIGESTS:
        raise _unsupported(f"PBKDF2 with {digest_name} is not supported ({', '.join(sorted(PBKDF2_DIGESTS))})")
    if not 1 <= iterations <= PBKDF2_MAX_ITERATIONS:
        raise _unsupported(f"PBKDF2 iterations {iterations} outside 1-{PBKDF2_MAX_ITERATIONS}")
    return pbkdf2_imported_encode(digest=digest_name, iterations=iterations, salt=salt, key=key)


def _pbkdf2_phc(digest: str) -> str:
    """Auth0's PBKDF2: `$pbkdf2-<digest>$i=<iterations>,l=<key length>$<B64 salt>$<B64 hash>`."""
    match = _PBKDF2_PHC.match(digest)
    if not match:
        raise _malformed("expected a PBKDF2 PHC string: $pbkdf2-sha256$i=…,l=…$<salt>$<hash>")
    digest_name, iterations, length, salt, key = match.groups()
    raw_key = _b64(key, "PBKDF2 hash")
    if length is not None and int(length) != len(raw_key):
        raise _malformed(f"l={length} does not match the {len(raw_key)}-byte hash")
    return _pbkdf2(digest_name, int(iterations), _b64(salt, "PBKDF2 salt"), raw_key)


def _split(digest: str, count: int, shape: str) -> list[str]:
    parts = digest.split("$")
    if len(parts) != count or not all(parts):
        raise _malformed(f"expected {shape}")
    return parts


def _pbkdf2_django(digest: str) -> str:
    """Django's own `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`: kept for Django's hasher."""
    algorithm, iterations, salt, key = _split(digest, 4, "pbkdf2_sha256$<iterations>$<salt>$<hash>")
    if algorithm != "pbkdf2_sha256" or not iterations.isdigit():
        raise _malformed("expected pbkdf2_sha256$<iterations>$<salt>$<hash>")
    raw_key = _b64(key, "PBKDF2 hash")
    if len(raw_key) != 32:
        raise _malformed("a pbkdf2_sha256 hash is 32 bytes")
    if not 1 <= int(iterations) <= PBKDF2_MAX_ITERATIONS:
        raise _unsupported(f"PBKDF2 iterations {int(iterations)} outside 1-{PBKDF2_MAX_ITERATIONS}")
    # Django compares the whole re-encoded string: normalise the number and the base64 padding.
    return f"pbkdf2_sha256${int(iterations)}${salt}${base64.b64encode(raw_key).decode('ascii')}"


def _pbkdf2_sha256_b64(digest: str) -> str:
    """Clerk's `pbkdf2_sha256$<iterations>$<base64 salt>$<base64 hash>`."""
    algorithm, iterations, salt, key = _split(digest, 4, "pbkdf2_sha256$<iterations>$<salt>$<hash>")
    if algorithm != "pbkdf2_sha256" or not iterations.isdigit():
        raise _malformed("expected pbkdf2_sha256$<iterations>$<base64 salt>$<base64 hash>")
    return _pbkdf2("sha256", int(iterations), _b64(salt, "PBKDF2 salt"), _b64(key, "PBKDF2 hash"))


def _pbkdf2_sha1_hex(digest: str) -> str:
    """Clerk's `pbkdf2_sha1$<iterations>$<salt as text>$<hex hash>`."""
    algorithm, iterations, salt, key = _split(digest, 4, "pbkdf2_sha1$<iterations>$<salt>$<hex hash>")
    if algorithm != "pbkdf2_sha1" or not iterations.isdigit():
        raise _malformed("expected pbkdf2_sha1$<iterations>$<salt>$<hex hash>")
    try:
        raw_key = bytes.fromhex(key)
    except ValueError:
        raise _malformed("PBKDF2 hash is not hexadecimal") from None
    return _pbkdf2("sha1", int(iterations), salt.encode(), raw_key)


def _firebase_scrypt(digest: str) -> str:
    """`<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<mem_cost>` (base64 parts), Clerk's layout."""
    shape = "<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<mem_cost>"
    password_hash, salt, signer_key, separator, rounds, mem_cost = _split(digest, 6, shape)
    if not (rounds.isdigit() and mem_cost.isdigit()):
        raise _malformed(f"expected {shape}")
    if not (1 <= int(rounds) <= FIREBASE_MAX_ROUNDS and 1 <= int(mem_cost) <= FIREBASE_MAX_MEM_COST):
        raise _unsupported(f"Firebase scrypt rounds={rounds}, mem_cost={mem_cost} outside 1-8 and 1-14")
    raw_hash, raw_key = _b64(password_hash, "Firebase hash"), _b64(signer_key, "Firebase signer key")
    if min(len(raw_hash), len(raw_key)) < 16:
        raise _malformed("Firebase hash and signer key are at least 16 bytes")
    return firebase_scrypt_encode(password_hash=raw_hash, salt=_b64(salt, "Firebase salt"), signer_key=raw_key,
                                  salt_separator=_b64(separator, "Firebase salt separator"),
                                  rounds=int(rounds), mem_cost=int(mem_cost))


# Hasher names as each source spells them → converter to Django's encoded form.
CONVERTERS: dict[str, dict[str, Callable[[str], str]]] = {
    ImportFormat.AUTH0: {"bcrypt": _bcrypt, "argon2": _argon2, "pbkdf2": _pbkdf2_phc},
    ImportFormat.CLERK: {
        "bcrypt": _bcrypt, "bcrypt_sha256_django": _bcrypt_sha256_django, "argon2i": _argon2, "argon2id": _argon2,
        "pbkdf2_sha256": _pbkdf2_sha256_b64, "pbkdf2_sha256_django": _pbkdf2_django, "pbkdf2_sha1": _pbkdf2_sha1_hex,
        "scrypt_firebase": _firebase_scrypt,
    },
    ImportFormat.CSV: {
        "bcrypt": _bcrypt, "bcrypt_sha256": _bcrypt_sha256_django, "argon2": _argon2, "argon2id": _argon2,
        "argon2i": _argon2, "pbkdf2": _pbkdf2_phc, "pbkdf2_sha256": _pbkdf2_django,
        "firebase_scrypt": _firebase_scrypt, "scrypt_firebase": _firebase_scrypt,
    },
}


def password_hash_convert(*, fmt: str, hasher: str, digest: str) -> str | None:
    """A source's hash as Django's encoded password, None when there is none; raises HashRejected."""
    digest, hasher = digest.strip(), hasher.strip().lower()
    if not digest:
        return None
    converter = CONVERTERS[fmt].get(hasher)
    if converter is None:
        supported = ", ".join(sorted(CONVERTERS[fmt]))
        raise _unsupported(f"{hasher or 'no hasher given'} is not supported (supported: {supported})")
    encoded = converter(digest)
    algorithm = encoded.split("$", 1)[0]
    if algorithm not in get_hashers_by_algorithm():
        raise _unsupported(f"{algorithm} is not enabled in PASSWORD_HASHERS")
    if len(encoded) > PASSWORD_COLUMN_LENGTH:
        raise _unsupported(f"the encoded hash is longer than the {PASSWORD_COLUMN_LENGTH}-character password column")
    return encoded


# --- reading files ----------------------------------------------------------------------------------

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _bool(value: Any, field: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{field}: {value!r} is not true or false")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _failed(row: int, email: str, code: str, detail: str) -> ImportRow:
    return ImportRow(row=row, email=email, error=code, detail=detail)


def _auth0_password(record: dict[str, Any]) -> str | None:
    custom = record.get("custom_password_hash")
    if custom is None:  # `password_hash` in the import schema, `passwordHash` in exports from Auth0 support
        return password_hash_convert(fmt=ImportFormat.AUTH0, hasher="bcrypt",
                                     digest=_text(record.get("password_hash") or record.get("passwordHash")))
    hash_ = custom.get("hash") if isinstance(custom, dict) else None
    if not isinstance(hash_, dict) or not _text(hash_.get("value")):
        raise _malformed("custom_password_hash needs an algorithm and hash.value")
    algorithm = _text(custom.get("algorithm")).lower()
    if algorithm in CONVERTERS[ImportFormat.AUTH0]:
        if custom.get("salt") is not None:
            raise _malformed(f"{algorithm} hashes carry their salt; custom_password_hash.salt is not allowed")
        password_options = custom.get("password") if isinstance(custom.get("password"), dict) else {}
        for where, encoding in (("hash", hash_.get("encoding")), ("password", password_options.get("encoding"))):
            if encoding is not None and _text(encoding).lower() not in ("utf8", "utf-8"):
                raise _unsupported(f"{where}.encoding {encoding!r} is not supported (utf8 only)")
    return password_hash_convert(fmt=ImportFormat.AUTH0, hasher=algorithm, digest=_text(hash_.get("value")))


def _auth0_row(row: int, record: Any) -> ImportRow:
    if not isinstance(record, dict):
        return _failed(row, "", RowCode.MALFORMED_ROW, "not a JSON object")
    email = _text(record.get("email"))
    user_id = record.get("user_id") or record.get("_id")
    if isinstance(user_id, dict):  # `{"$oid": "…"}` in exports from Auth0 support
        user_id = user_id.get("$oid")
    try:
        verified = _bool(record.get("email_verified"), "email_verified")
        blocked = _bool(record.get("blocked"), "blocked")
    except ValueError as exc:
        return _failed(row, email, RowCode.INVALID_FIELD, str(exc))
    try:
        password = _auth0_password(record)
    except HashRejected as exc:
        return _failed(row, email, exc.code, exc.detail)
    name = _text(record.get("name"))
    return ImportRow(
        row=row, email=email, first_name=_text(record.get("given_name")), last_name=_text(record.get("family_name")),
        display_name="" if name.lower() == email.lower() else name,  # Auth0 fills `name` with the e-mail
        email_verified=verified, is_active=not blocked, password=password, external_id=_text(user_id),
    )


def _auth0_rows(text: str) -> list[ImportRow]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"not a valid JSON array: {exc}") from None
        return [_auth0_row(row, record) for row, record in enumerate(records, start=1)]
    rows = []
    for row, line in enumerate((line for line in text.splitlines() if line.strip()), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            rows.append(_failed(row, "", RowCode.MALFORMED_ROW, "not valid JSON"))
            continue
        rows.append(_auth0_row(row, record))
    return rows


def _csv_records(text: str, *, required: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if reader.fieldnames is None:
            raise ImportFileError("the file is empty; expected a header row")
        reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames]
        missing = sorted(required - set(reader.fieldnames))
        if missing:
            raise ImportFileError(f"missing column(s): {', '.join(missing)}")
        for row, record in enumerate(reader, start=1):
            # Extra cells land under the key None as a list: ignored.
            yield row, {key: (value or "").strip() for key, value in record.items()
                        if isinstance(key, str) and not isinstance(value, list)}
    except csv.Error as exc:
        raise ImportFileError(f"not a readable CSV file: {exc}") from None


def _csv_rows(text: str, *, fmt: str) -> list[ImportRow]:
    """Clerk's dashboard export or the generic CSV; the header names the columns, in any order."""
    clerk = fmt == ImportFormat.CLERK
    email_column, digest_column = ("primary_email_address", "password_digest") if clerk else ("email", "password_hash")
    rows = []
    for row, record in _csv_records(text, required={email_column}):
        email = record[email_column]
        try:
            if clerk:  # Clerk separates several addresses with "|"
                verified_addresses = re.split(r"[|,;]", record.get("verified_email_addresses", "").lower())
                email_verified = email.lower() in {address.strip() for address in verified_addresses}
            else:
                email_verified = _bool(record.get("email_verified"), "email_verified")
            password = password_hash_convert(fmt=fmt, hasher=record.get("password_hasher", ""),
                                             digest=record.get(digest_column, ""))
        except HashRejected as exc:
            rows.append(_failed(row, email, exc.code, exc.detail))
            continue
        except ValueError as exc:
            rows.append(_failed(row, email, RowCode.INVALID_FIELD, str(exc)))
            continue
        rows.append(ImportRow(row=row, email=email, first_name=record.get("first_name", ""),
                              last_name=record.get("last_name", ""), email_verified=email_verified,
                              password=password, external_id=record.get("id", "") if clerk else ""))
    return rows


_PARSERS: dict[str, Callable[[str], list[ImportRow]]] = {
    ImportFormat.AUTH0: _auth0_rows,
    ImportFormat.CLERK: lambda text: _csv_rows(text, fmt=ImportFormat.CLERK),
    ImportFormat.CSV: lambda text: _csv_rows(text, fmt=ImportFormat.CSV),
}


def rows_parse(*, data: bytes | str, fmt: str) -> list[ImportRow]:
    """Read an export (UTF-8, with or without BOM); raises ImportFileError if the file itself is unusable."""
    if fmt not in _PARSERS:
        raise ImportFileError(f"unknown format {fmt!r}; expected one of {', '.join(ImportFormat.values)}")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return _PARSERS[fmt](data.removeprefix("\ufeff"))


# --- writing users ----------------------------------------------------------------------------------


def _email_taken(email: str) -> bool:
    return (User.objects.filter(email__iexact=email).exists()
            or EmailAddress.objects.filter(email__iexact=email).exists())


def _validation_detail(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages_)}" for field, messages_ in exc.message_dict.items())
    return " ".join(exc.messages)


def _row_import(*, row: ImportRow, dry_run: bool, actor: User | None, source: str, seen: set[str]) -> RowResult:
    def result(status: str, code: str, detail: str = "", user_id: str = "") -> RowResult:
        return RowResult(row=row.row, email=row.email, status=status, code=code, detail=detail, user_id=user_id)

    if row.error:
        return result(RowStatus.ERROR, row.error, row.detail)
    try:
        validate_email(row.email)
    except ValidationError:
        return result(RowStatus.ERROR, RowCode.INVALID_EMAIL, "not a valid e-mail address")
    email = User.objects.normalize_email(row.email)
    if email.lower() in seen:
        return result(RowStatus.SKIPPED, RowCode.DUPLICATE, "an earlier row of this file has this e-mail")
    seen.add(email.lower())
    if _email_taken(email):
        return result(RowStatus.SKIPPED, RowCode.EXISTS, "a user with this e-mail already exists")
    user = User(email=email, first_name=row.first_name, last_name=row.last_name, display_name=row.display_name,
                is_active=row.is_active, password=row.password or make_password(None))
    try:
        user.full_clean()
    except ValidationError as exc:
        return result(RowStatus.ERROR, RowCode.INVALID_FIELD, _validation_detail(exc))
    if dry_run:
        return result(RowStatus.OK, RowCode.WOULD_CREATE)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            EmailAddress.objects.create(user=user, email=email.lower(), primary=True, verified=row.email_verified)
            user_record_created(user=user, actor=actor, source="import")
            emit(action="user.imported", actor=actor, target=user, metadata={
                "source": source,
                "hasher": row.password.split("$", 1)[0] if row.password else "",
                "external_id": row.external_id[:255],
            })
    except IntegrityError as exc:  # rolled back: nothing of this row remains
        if _email_taken(email):  # another import or sign-up got there first
            return result(RowStatus.SKIPPED, RowCode.EXISTS, "a user with this e-mail already exists")
        return result(RowStatus.ERROR, RowCode.CONFLICT, str(exc).strip().splitlines()[0])
    return result(RowStatus.OK, RowCode.CREATED, user_id=str(user.pk))


def users_import(*, rows: Iterable[ImportRow], dry_run: bool, actor: User | None, source: str) -> list[RowResult]:
    """Create the users of `rows`, one transaction per row, and report each row.

    Idempotent: an e-mail that exists (case-insensitively, as a user or an allauth address) is
    skipped. Each created user gets a primary allauth EmailAddress with the source's verified flag,
    a `user.created` event (source "import") and a `user.imported` event (format, hash algorithm,
    id in the source system). With `dry_run` every check runs and nothing is written.
    """
    seen: set[str] = set()
    return [_row_import(row=row, dry_run=dry_run, actor=actor, source=source, seen=seen) for row in rows]


def results_summary(results: list[RowResult], *, dry_run: bool) -> str:
    counts = {status: sum(1 for result in results if result.status == status) for status in RowStatus.values}
    created = "would be created" if dry_run else "created"
    summary = (f"{len(results)} rows: {counts[RowStatus.OK]} {created}, {counts[RowStatus.SKIPPED]} skipped, "
               f"{counts[RowStatus.ERROR]} failed")
    return summary + (" (dry run: nothing was written)" if dry_run else "")


def result_line(result: RowResult) -> str:
    line = f"row {result.row}: {result.email or '-'} {result.status} {result.code}"
    if result.user_id:
        line += f" {result.user_id}"
    return line + (f": {result.detail}" if result.detail else "")


# --- admin action -----------------------------------------------------------------------------------


class UsersImportForm(forms.Form):
    file = forms.FileField(label="Export file")
    format = forms.ChoiceField(choices=ImportFormat.choices)
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run: check the file, write nothing")


_UPLOAD_PAGE = """{% extends "admin/base_site.html" %}
{% block content %}
<p>Users whose e-mail already exists are skipped, so the same file can be imported again.
Their password hashes are kept; each user's hash becomes Argon2id at their next sign-in.</p>
<form method="post" enctype="multipart/form-data">{% csrf_token %}
{{ form.as_div }}
<input type="hidden" name="action" value="users_import_admin_action">
<input type="hidden" name="users_import" value="1">
{% for pk in selected %}<input type="hidden" name="{{ checkbox }}" value="{{ pk }}">{% endfor %}
<div class="submit-row"><input type="submit" class="default" value="Import"></div>
</form>
{% endblock %}"""

MESSAGE_ROW_LIMIT = 20


@admin.action(description="Import users from a migration file (Auth0, Clerk, CSV)", permissions=["add"])
def users_import_admin_action(modeladmin: admin.ModelAdmin, request: HttpRequest,
                              queryset: QuerySet[User]) -> TemplateResponse | None:
    """Ask for a file, then import it. The selected users are ignored (Django runs actions on a selection)."""
    form = UsersImportForm(request.POST, request.FILES) if "users_import" in request.POST else UsersImportForm()
    if form.is_bound and form.is_valid():
        fmt, dry_run = form.cleaned_data["format"], form.cleaned_data["dry_run"]
        try:
            rows = rows_parse(data=form.cleaned_data["file"].read(), fmt=fmt)
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            results = users_import(rows=rows, dry_run=dry_run, actor=request.user, source=fmt)
            failed = [result for result in results if result.status == RowStatus.ERROR]
            level = messages.ERROR if failed else messages.SUCCESS
            modeladmin.message_user(request, results_summary(results, dry_run=dry_run), level)
            for result in failed[:MESSAGE_ROW_LIMIT]:
                modeladmin.message_user(request, result_line(result), messages.ERROR)
            if len(failed) > MESSAGE_ROW_LIMIT:
                modeladmin.message_user(request, f"… and {len(failed) - MESSAGE_ROW_LIMIT} more failed rows; "
                                        "run `manage.py import_users` for the full report.", messages.ERROR)
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Import users",
        "opts": modeladmin.model._meta,
        "form": form,
        "checkbox": helpers.ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, engines["django"].from_string(_UPLOAD_PAGE), context)

