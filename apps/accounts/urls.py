from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("auth/signup", apis.SignupApi.as_view(), name="auth-signup"),
    path("auth/signin", apis.SigninApi.as_view(), name="auth-signin"),
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", apis.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/signout", apis.SignoutApi.as_view(), name="auth-signout"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("auth/reauthenticate", apis.ReauthenticateApi.as_view(), name="auth-reauthenticate"),
    path("auth/password/change", apis.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/password/forgot", apis.PasswordForgotApi.as_view(), name="auth-password-forgot"),
    path("auth/password/reset", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("auth/email/verify", apis.EmailVerifyApi.as_view(), name="auth-email-verify"),
    path("auth/verify-email", apis.VerifyEmailApi.as_view(), name="auth-verify-email"),
    path("auth/email/resend-verification", apis.EmailResendVerificationApi.as_view(),
         name="auth-email-resend-verification"),
    path("auth/magic-link", apis.MagicLinkApi.as_view(), name="auth-magic-link"),
    path("auth/magic-link/verify", apis.MagicLinkVerifyApi.as_view(), name="auth-magic-link-verify"),
    path("auth/oauth/providers", apis.OAuthProviderListApi.as_view(), name="auth-oauth-providers"),
    path("auth/oauth/authorize/<str:provider>", apis.OAuthAuthorizeApi.as_view(), name="auth-oauth-authorize"),
    path("auth/oauth/callback/<str:provider>", apis.OAuthCallbackApi.as_view(), name="auth-oauth-callback"),
    path("auth/oauth/accounts", apis.OAuthAccountListApi.as_view(), name="auth-oauth-accounts"),
    path("auth/oauth/accounts/<str:provider>", apis.OAuthAccountDetailApi.as_view(), name="auth-oauth-account"),
    path("users/me", apis.UserMeApi.as_view(), name="users-me"),
    path("users/me/export", apis.UserMeExportApi.as_view(), name="users-me-export"),
    path("users/<str:user_id>", apis.UserDetailApi.as_view(), name="user-detail"),
    path("sessions", apis.SessionListApi.as_view(), name="sessions"),
    path("sessions/<str:session_id>", apis.SessionDetailApi.as_view(), name="session-detail"),
]

well_known_urlpatterns = [
    path(".well-known/jwks.json", apis.jwks_view, name="jwks"),
    path(".well-known/openid-configuration", apis.openid_configuration_view, name="openid-configuration"),
]
