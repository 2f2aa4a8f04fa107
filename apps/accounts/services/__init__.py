"""Writes of the accounts domain, split by sub-domain; import from here."""

from apps.accounts.services.users import (  # noqa: F401
    AUDITED_USER_FIELDS,
    user_changes,
    user_create,
    user_record_created,
    user_record_email,
    user_record_signed_up,
    user_record_signin,
    user_record_signin_failure,
    user_record_signout,
    user_record_update,
)
