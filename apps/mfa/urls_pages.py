"""MFA pages; included under /accounts/2fa/ by plinto/urls.py (before allauth's accounts/ include).

Names: `mfa_index` fills the slot in templates/allauth/layouts/manage.html; `mfa_authenticate` is
AuthenticateStage.urlname, where allauth sends a paused sign-in.
"""

from django.urls import path

from apps.mfa import views
from apps.mfa.models import Channel

urlpatterns = [
    path("", views.index_page, name="mfa_index"),
    path("totp/", views.totp_setup_page, name="mfa_totp"),
    path("webauthn/register/options", views.webauthn_register_options, name="mfa_webauthn_register_options"),
    path("webauthn/register/verify", views.webauthn_register_verify, name="mfa_webauthn_register_verify"),
    path("sms/", views.message_setup_page, {"channel": Channel.SMS.value}, name="mfa_sms"),
    path("email/", views.message_setup_page, {"channel": Channel.EMAIL.value}, name="mfa_email"),
    path("backup-codes/", views.backup_codes_page, name="mfa_backup_codes"),
    path("factors/<uuid:factor_id>/remove/", views.factor_remove_page, name="mfa_factor_remove"),
    path("authenticate/", views.authenticate_page, name="mfa_authenticate"),
    path("authenticate/webauthn/options", views.authenticate_webauthn_options,
         name="mfa_authenticate_webauthn_options"),
    path("authenticate/webauthn/verify", views.authenticate_webauthn_verify, name="mfa_authenticate_webauthn_verify"),
    path("passkey-login/", views.passkey_login_page, name="mfa_passkey_login"),
    path("passkey-login/options", views.passkey_login_options, name="mfa_passkey_login_options"),
    path("passkey-login/verify", views.passkey_login_verify, name="mfa_passkey_login_verify"),
]
