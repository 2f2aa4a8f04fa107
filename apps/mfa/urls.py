from django.urls import path

from apps.mfa import apis

urlpatterns = [
    path("mfa/status", apis.MfaStatusApi.as_view(), name="mfa-status"),
    path("mfa/totp/setup", apis.TotpSetupApi.as_view(), name="mfa-totp-setup"),
    path("mfa/totp/confirm", apis.TotpConfirmApi.as_view(), name="mfa-totp-confirm"),
    path("mfa/hotp/setup", apis.HotpSetupApi.as_view(), name="mfa-hotp-setup"),
    path("mfa/backup-codes/regenerate", apis.BackupCodesRegenerateApi.as_view(), name="mfa-backup-codes"),
    path("mfa/sms/setup", apis.SmsSetupApi.as_view(), name="mfa-sms-setup"),
    path("mfa/sms/confirm", apis.SmsConfirmApi.as_view(), name="mfa-sms-confirm"),
    path("mfa/email/setup", apis.EmailSetupApi.as_view(), name="mfa-email-setup"),
    path("mfa/email/confirm", apis.EmailConfirmApi.as_view(), name="mfa-email-confirm"),
    path("mfa/factors/<str:factor_id>", apis.FactorDetailApi.as_view(), name="mfa-factor"),
    path("mfa/challenge", apis.ChallengeApi.as_view(), name="mfa-challenge"),
    path("mfa/challenge/verify", apis.ChallengeVerifyApi.as_view(), name="mfa-challenge-verify"),
]
