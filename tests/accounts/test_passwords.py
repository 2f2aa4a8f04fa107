"""Password hashing and validation: Argon2id for new hashes, legacy hashes upgraded at sign-in, 8-128 characters.

plinto/settings/test.py swaps in MD5 for speed; every test here runs with the production hashers.
"""

import base64
import hashlib
import os

import bcrypt
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import (
    Argon2PasswordHasher,
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
    check_password,
    make_password,
)
from django.contrib.auth.hashers import BCryptPasswordHasher as DjangoBCryptPasswordHasher
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError

from apps.accounts.hashers import BCryptPasswordHasher, firebase_scrypt_encode, pbkdf2_imported_encode
from apps.accounts.models import User
from plinto.settings import base as base_settings
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "tundra lamp kettle 42"
# OpenWall crypt_blowfish test vector (also in OpenBSD's and pyca/bcrypt's suites): bcrypt ignores byte 73 on.
LONG_PASSWORD = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored"
LONG_PASSWORD_BCRYPT = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
# Published Firebase vector (github.com/firebase/scrypt README): project hash config, user salt and hash.
FIREBASE_SIGNER_KEY = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
FIREBASE_SALT_SEPARATOR = "Bw=="
FIREBASE_SALT = "42xEC+ixf3L2lw=="
FIREBASE_HASH = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="


@pytest.fixture(autouse=True)
def production_hashers(settings) -> None:  # noqa: ANN001
    settings.PASSWORD_HASHERS = base_settings.PASSWORD_HASHERS


def argon2id_prefix(settings) -> str:  # noqa: ANN001
    params = settings.PASSWORD_ARGON2
    return f"argon2$argon2id$v=19$m={params['memory_cost']},t={params['time_cost']},p={params['parallelism']}$"


def user_with_hash(encoded: str) -> User:
    user = UserFactory(password=None)
    User.objects.filter(pk=user.pk).update(password=encoded)
    user.refresh_from_db()
    return user


def stored_password(user: User) -> str:
    return User.objects.values_list("password", flat=True).get(pk=user.pk)


def error_codes(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {error.code for error in exc.value.error_list}


# --- Argon2id -------------------------------------------------------------------------------------


def test_new_passwords_are_argon2id_with_owasp_parameters_when_nothing_is_configured(settings) -> None:  # noqa: ANN001
    del settings.PASSWORD_ARGON2
    encoded = make_password(PASSWORD)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password(PASSWORD, encoded) is True


def test_settings_ship_the_owasp_parameters_as_defaults() -> None:
    assert base_settings.PASSWORD_HASHERS[0] == "apps.accounts.hashers.Argon2idHasher"
    # Only the environment changes these (PASSWORD_ARGON2_MEMORY_KIB, _TIME_COST, _PARALLELISM).
    if not any(name.startswith("PASSWORD_ARGON2_") for name in os.environ):
        assert base_settings.PASSWORD_ARGON2 == {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}


def test_argon2_parameters_are_read_from_settings_at_every_hash(settings) -> None:  # noqa: ANN001
    settings.PASSWORD_ARGON2 = {"memory_cost": 8192, "time_cost": 3, "parallelism": 2}
    user = user_with_hash(make_password(PASSWORD))
    assert user.password.startswith("argon2$argon2id$v=19$m=8192,t=3,p=2$")

    settings.PASSWORD_ARGON2 = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}
    assert user.check_password(PASSWORD) is True  # stored parameters differ: re-hashed with the new ones
    assert stored_password(user).startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_argon2_settings_that_argon2_refuses_fail_loudly(settings) -> None:  # noqa: ANN001
    settings.PASSWORD_ARGON2 = {"memory_cost": 16, "time_cost": 2, "parallelism": 4}  # needs >= 8 KiB per lane
    with pytest.raises(ImproperlyConfigured, match="PASSWORD_ARGON2"):
        make_password(PASSWORD)


def test_argon2id_reads_every_character_of_a_128_character_unicode_password() -> None:
    password = "é" * 100 + "🦄" * 27 + "a"  # 128 characters, 309 bytes
    encoded = make_password(password)
    assert check_password(password, encoded) is True
    assert check_password(password[:-1] + "b", encoded) is False


# --- legacy hashes upgraded at sign-in ----------------------------------------------------------------


@pytest.mark.parametrize(("_case", "make_legacy_hash"), [
    ("bcrypt, Plinto's legacy", lambda: "bcrypt$" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()),
    ("bcrypt_sha256", lambda: BCryptSHA256PasswordHasher().encode(PASSWORD, bcrypt.gensalt(4))),
    ("pbkdf2_sha256", lambda: PBKDF2PasswordHasher().encode(PASSWORD, "aSaltOf22Characters123", iterations=1000)),
    ("argon2 with Django's default cost", lambda: Argon2PasswordHasher().encode(PASSWORD, "aSaltOf22Characters123")),
])
def test_a_legacy_hash_signs_in_and_is_upgraded_to_argon2id(settings, _case: str, make_legacy_hash) -> None:  # noqa: ANN001, PT019
    legacy = make_legacy_hash()
    user = user_with_hash(legacy)

    assert user.check_password("not the password") is False
    assert stored_password(user) == legacy  # a failed check never re-hashes

    assert user.check_password(PASSWORD) is True
    upgraded = stored_password(user)
    assert upgraded.startswith(argon2id_prefix(settings))
    assert user_with_hash(upgraded).check_password(PASSWORD) is True


def test_authenticate_signs_in_with_a_legacy_bcrypt_hash_and_upgrades_it(settings) -> None:  # noqa: ANN001
    user = user_with_hash("bcrypt$" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode())
    assert authenticate(None, username=user.email.upper(), password="wrong password") is None

    assert authenticate(None, username=user.email.upper(), password=PASSWORD) == user
    assert stored_password(user).startswith(argon2id_prefix(settings))


# --- bcrypt's 72 bytes ------------------------------------------------------------------------------


def test_django_stock_bcrypt_hasher_crashes_on_long_passwords_with_bcrypt_5() -> None:
    # Why apps.accounts.hashers.BCryptPasswordHasher exists: bcrypt>=5 raises instead of truncating.
    with pytest.raises(ValueError, match="72 bytes"):
        DjangoBCryptPasswordHasher().verify(LONG_PASSWORD, "bcrypt$" + LONG_PASSWORD_BCRYPT)


def test_legacy_bcrypt_checks_a_long_password_against_the_72_bytes_it_was_made_from(settings) -> None:  # noqa: ANN001
    user = user_with_hash("bcrypt$" + LONG_PASSWORD_BCRYPT)
    assert len(LONG_PASSWORD.encode()) > 72

    assert user.check_password("X" + LONG_PASSWORD[1:]) is False  # differs within the first 72 bytes
    assert user.check_password(LONG_PASSWORD) is True  # no crash, published vector matches

    # Upgraded to Argon2id of the whole password: from now on every byte counts.
    assert stored_password(user).startswith(argon2id_prefix(settings))
    upgraded = user_with_hash(stored_password(user))
    assert upgraded.check_password(LONG_PASSWORD[:72]) is False
    assert upgraded.check_password(LONG_PASSWORD) is True


def test_new_bcrypt_hashes_refuse_to_truncate_a_long_password() -> None:
    with pytest.raises(ValueError, match="72 bytes"):
        BCryptPasswordHasher().encode(LONG_PASSWORD, bcrypt.gensalt(4))


def test_a_damaged_bcrypt_hash_fails_the_check_instead_of_crashing() -> None:
    user = user_with_hash("bcrypt$" + LONG_PASSWORD_BCRYPT[:20])  # cut short: bcrypt raises "Invalid salt"
    assert user.check_password(LONG_PASSWORD) is False
    assert stored_password(user) == "bcrypt$" + LONG_PASSWORD_BCRYPT[:20]


# --- Firebase scrypt --------------------------------------------------------------------------------


def firebase_encoded(*, password_hash: str, salt: str, signer_key: str, separator: str, rounds: int,
                     mem_cost: int) -> str:
    return firebase_scrypt_encode(password_hash=base64.b64decode(password_hash), salt=base64.b64decode(salt),
                                  signer_key=base64.b64decode(signer_key),
                                  salt_separator=base64.b64decode(separator), rounds=rounds, mem_cost=mem_cost)


def test_firebase_scrypt_verifies_the_published_firebase_vector() -> None:
    encoded = firebase_encoded(password_hash=FIREBASE_HASH, salt=FIREBASE_SALT, signer_key=FIREBASE_SIGNER_KEY,
                               separator=FIREBASE_SALT_SEPARATOR, rounds=8, mem_cost=14)
    assert encoded.startswith("firebase_scrypt$8$14$") and len(encoded) <= 128
    assert FIREBASE_SIGNER_KEY not in encoded and FIREBASE_HASH not in encoded
    assert check_password("user1password", encoded) is True
    assert check_password("user1password ", encoded) is False


def test_firebase_scrypt_matches_firebases_algorithm_computed_independently() -> None:
    # Firebase: AES-256-CTR(key=scrypt(password, salt+separator, N=2**mem_cost, r=rounds, p=1), iv=0) of the
    # signer key. Computed here the long way, with a fresh project config and user salt.
    signer_key, salt, separator = os.urandom(64), os.urandom(12), os.urandom(1)
    derived = hashlib.scrypt("pässwörd 🔑".encode(), salt=salt + separator, n=2**10, r=4, p=1, dklen=32)
    encryptor = Cipher(algorithms.AES(derived), modes.CTR(b"\x00" * 16)).encryptor()
    firebase_hash = encryptor.update(signer_key) + encryptor.finalize()

    encoded = firebase_scrypt_encode(password_hash=firebase_hash, salt=salt, signer_key=signer_key,
                                     salt_separator=separator, rounds=4, mem_cost=10)
    assert check_password("pässwörd 🔑", encoded) is True
    assert check_password("passwörd 🔑", encoded) is False


def test_a_firebase_user_signs_in_and_is_upgraded_to_argon2id(settings) -> None:  # noqa: ANN001
    user = user_with_hash(firebase_encoded(password_hash=FIREBASE_HASH, salt=FIREBASE_SALT,
                                           signer_key=FIREBASE_SIGNER_KEY, separator=FIREBASE_SALT_SEPARATOR,
                                           rounds=8, mem_cost=14))
    assert user.check_password("user1password") is True
    assert stored_password(user).startswith(argon2id_prefix(settings))


# --- PBKDF2 with binary salts -----------------------------------------------------------------------


@pytest.mark.parametrize(("digest", "key_length"), [("sha1", 20), ("sha256", 32), ("sha512", 64), ("sha512", 20)])
def test_imported_pbkdf2_verifies_keys_derived_by_hashlib(digest: str, key_length: int) -> None:
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac(digest, PASSWORD.encode(), salt, 1000, dklen=key_length)
    encoded = pbkdf2_imported_encode(digest=digest, iterations=1000, salt=salt, key=key)
    assert encoded.startswith(f"pbkdf2_imported${digest}$1000$") and len(encoded) <= 128
    assert check_password(PASSWORD, encoded) is True
    assert check_password(PASSWORD + "!", encoded) is False


# --- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [
    "kzmvtqpw",  # 8 lowercase letters: no composition rules
    "ж" * 4 + "🦄" * 4,  # 8 characters of any Unicode
    "Tundra lamp kettle 42! " * 5 + "x" * 13,  # exactly 128
])
def test_passwords_of_8_to_128_characters_of_any_kind_are_accepted(password: str) -> None:
    validate_password(password, user=User(email="someone@example.com"))


def test_passwords_under_8_or_over_128_characters_are_refused() -> None:
    with pytest.raises(ValidationError) as too_short:
        validate_password("kzmvtqp")
    assert "password_too_short" in error_codes(too_short)

    with pytest.raises(ValidationError) as too_long:
        validate_password("kzmvtqpw" * 16 + "x")
    assert error_codes(too_long) == {"password_too_long"}
    assert "at most 128 characters" in too_long.value.messages[0]


def test_common_passwords_and_passwords_like_the_email_are_refused() -> None:
    with pytest.raises(ValidationError) as common:
        validate_password("password123")
    assert "password_too_common" in error_codes(common)

    with pytest.raises(ValidationError) as similar:
        validate_password("ada.lovelace.1815", user=User(email="ada.lovelace.1815@example.com"))
    assert "password_too_similar" in error_codes(similar)


def test_signing_in_through_the_api_upgrades_a_legacy_bcrypt_hash(settings) -> None:  # noqa: ANN001
    from tests.accounts.helpers import signin

    legacy = "bcrypt$" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    user = user_with_hash(legacy)

    assert signin(user.email, PASSWORD).status_code == 200

    assert stored_password(user).startswith(argon2id_prefix(settings))
    assert signin(user.email, PASSWORD).status_code == 200  # and the new hash works
