"""Passkey routes; included under /api/v1/passkeys/ by plinto/urls.py."""

from django.urls import path

from apps.mfa import apis_passkeys as apis

urlpatterns = [
    path("", apis.PasskeyListApi.as_view(), name="passkeys"),
    path("register/options", apis.PasskeyRegistrationOptionsApi.as_view(), name="passkeys-register-options"),
    path("register/verify", apis.PasskeyRegistrationVerifyApi.as_view(), name="passkeys-register-verify"),
    path("authenticate/options", apis.PasskeyAuthenticationOptionsApi.as_view(),
         name="passkeys-authenticate-options"),
    path("authenticate/verify", apis.PasskeyAuthenticationVerifyApi.as_view(), name="passkeys-authenticate-verify"),
    path("<str:passkey_id>", apis.PasskeyDetailApi.as_view(), name="passkey-detail"),
]
