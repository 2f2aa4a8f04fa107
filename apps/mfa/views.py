"""Server-rendered MFA pages under /accounts/2fa/ (apps/mfa/urls_pages.py).

Three groups, all thin (HTTP in, one service call, a page or a small JSON answer out):
- managing one's factors: the "Two-factor authentication" page, enrolment of each kind, backup
  codes, removal (the last two behind allauth's reauthentication);
- the second step of a browser sign-in: the page the login stage (apps.mfa.stages) sends to;
- passwordless sign-in with a passkey.
The WebAuthn endpoints answer JSON to static/js/webauthn.js: `{ceremony_id, publicKey}` for options,
`{location}` when done, `{detail}` (and `location` when the sign-in is over) with a 4xx status on error.
Every check is the services' (factors, challenge, webauthn); the views never re-implement one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.decorators import reauthentication_required
from allauth.account.internal.decorators import login_stage_required
from allauth.account.internal.flows.login import record_authentication
from allauth.account.internal.flows.reauthentication import raise_if_reauthentication_required
from allauth.account.internal.stagekit import clear_login, stash_login
from allauth.account.stages import LoginStageController
from allauth.account.utils import get_login_redirect_url
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audit.services import emit
from apps.core import crypto
from apps.core.errors import ApplicationError
from apps.core.http import client_ip
from apps.core.ratelimit import hit
from apps.mfa import webauthn
from apps.mfa.apis import EmailSetupApi, SmsSetupApi
from apps.mfa.errors import FactorNotFound
from apps.mfa.models import Channel, Factor, FactorType, TOTPDevice
from apps.mfa.services import challenge, factors
from apps.mfa.stages import REMEMBER_COOKIE, REMEMBER_COOKIE_PATH, AuthenticateStage

TOO_MANY_ATTEMPTS = "Too many attempts; wait a few minutes and try again."
TOO_MANY_WRONG = "Too many wrong answers. Sign in again."
STAGE_OVER = "This sign-in has expired; sign in again."
# allauth asks its adapter whether `app` needs reauthentication; no app name means "always".
REAUTHENTICATE_ALWAYS = ""
_TOTP_SESSION_KEY = "mfa_totp_setup"  # the pending enrolment, sealed: {device_id, sealed}

# How each code-based method is asked for on the sign-in page: (field label, inputmode).
CODE_PROMPTS: dict[str, tuple[str, str]] = {
    FactorType.TOTP: ("Code from your authenticator app", "numeric"),
    FactorType.HOTP: ("Code from your hardware token", "numeric"),
    FactorType.BACKUP_CODE: ("Backup code", "text"),
    FactorType.SMS: ("Code sent by SMS", "numeric"),
    FactorType.EMAIL: ("Code sent by e-mail", "numeric"),
}
MESSAGE_METHODS = (FactorType.SMS, FactorType.EMAIL)


# --- small helpers ------------------------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _ceremony_answer(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(ceremony_id, credential) of a WebAuthn answer as webauthn.js posts it; wrong shapes become empty."""
    ceremony_id, credential = body.get("ceremony_id"), body.get("credential")
    return (ceremony_id[:128] if isinstance(ceremony_id, str) else ""), (
        credential if isinstance(credential, dict) else {})


def _json_error(detail: str, *, status: int = 400, location: str | None = None) -> JsonResponse:
    payload: dict[str, Any] = {"detail": detail}
    if location:
        payload["location"] = location
    return JsonResponse(payload, status=status)


def _as_json(response: HttpResponse, *, error: str | None = None) -> JsonResponse:
    """A redirect the sign-in produced, for fetch(): its target as `location`, its cookies kept."""
    location = response.get("Location") or resolve_url(settings.LOGIN_REDIRECT_URL)
    answer = _json_error(error, location=location) if error else JsonResponse({"location": location})
    answer.cookies = response.cookies
    return answer


def _inline_svg(svg: str) -> SafeString:
    """The QR code for embedding in HTML, without its XML prolog.

    Safe to mark safe: factors.qr_svg draws it with the qrcode library from the otpauth URI we built;
    it holds only path data, nothing a user typed.
    """
    return mark_safe(svg[svg.find("<svg"):])  # noqa: S308


def _remember_browser(request: HttpRequest, response: HttpResponse, user: Any) -> None:
    token = challenge.remembered_device_create(user=user, user_agent=request.META.get("HTTP_USER_AGENT", ""))
    response.set_cookie(REMEMBER_COOKIE, token, max_age=settings.MFA_REMEMBER_DEVICE_DAYS * 24 * 3600,
                        path=REMEMBER_COOKIE_PATH, secure=request.is_secure(), httponly=True, samesite="Lax")


def _first_error(errors: dict[str, Any]) -> str:
    for messages_ in errors.values():
        return str(messages_[0])
    return "Invalid input."


# --- the "Two-factor authentication" page ---------------------------------------------------------------


@login_required
@require_GET
def index_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    enrolled = factors.factors_of(user)
    return render(request, "mfa/index.html", {
        "mfa_enabled": factors.mfa_enabled(user),
        "factors": [f for f in enrolled if f.factor_type != FactorType.BACKUP_CODE],
        "has_backup_codes": any(f.factor_type == FactorType.BACKUP_CODE for f in enrolled),
        "backup_codes_remaining": factors.backup_codes_remaining(user),
        "sms_available": settings.SMS_PROVIDER != "disabled",
    })


# --- authenticator app ------------------------------------------------------------------------------------


def _totp_pending(request: HttpRequest) -> dict[str, str] | None:
    """The enrolment this browser started, while its device is still the user's pending one."""
    stored = request.session.get(_TOTP_SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    pending_ids = {str(f.pk) for f in factors.factors_of(request.user, confirmed=False) if isinstance(f, TOTPDevice)}
    if stored.get("device_id") not in pending_ids:
        return None
    try:
        return json.loads(crypto.decrypt(stored["sealed"]))
    except (crypto.DecryptionFailed, KeyError, ValueError):
        return None


@login_required
@never_cache
@transaction.non_atomic_requests  # a wrong code's back-off is committed although the page shows an error
@require_http_methods(["GET", "POST"])
def totp_setup_page(request: HttpRequest) -> HttpResponse:
    pending = _totp_pending(request)
    error = None
    if request.method == "POST":
        if pending is None:
            messages.error(request, "That set-up had expired; scan this new code.")
            return redirect("mfa_totp")
        if not hit("MFA_VERIFY", f"user:{request.user.pk}").allowed:
            error = TOO_MANY_ATTEMPTS
        else:
            try:
                factors.totp_confirm(user=request.user, code=request.POST.get("code", "")[:64])
            except ApplicationError as exc:
                error = exc.detail
            else:
                request.session.pop(_TOTP_SESSION_KEY, None)
                messages.success(request, "Your authenticator app is set up.")
                return redirect("mfa_index")
    if pending is None:
        device, secret, uri, _svg = factors.totp_setup(user=request.user)
        pending = {"secret": secret, "uri": uri}
        # The secret is encrypted at rest in the device; keep it so in the session too.
        request.session[_TOTP_SESSION_KEY] = {"device_id": str(device.pk),
                                              "sealed": crypto.encrypt(json.dumps(pending))}
    return render(request, "mfa/totp_setup.html", {
        "qr_svg": _inline_svg(factors.qr_svg(pending["uri"])),
        "secret": pending["secret"],
        "error": error,
    }, status=400 if error else 200)


# --- security keys and passkeys -------------------------------------------------------------------------


@login_required
@require_POST
def webauthn_register_options(request: HttpRequest) -> JsonResponse:
    ceremony_id, public_key = webauthn.registration_options(user=request.user)
    return JsonResponse({"ceremony_id": ceremony_id, "publicKey": public_key})


@login_required
@require_POST
def webauthn_register_verify(request: HttpRequest) -> JsonResponse:
    body = _json_body(request)
    ceremony_id, credential = _ceremony_answer(body)
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    if len(name) > 64:
        return _json_error("The name is too long (64 characters at most).")
    try:
        passkey = webauthn.registration_verify(user=request.user, ceremony_id=ceremony_id, credential=credential,
                                               name=name)
    except ApplicationError as exc:
        return _json_error(exc.detail)
    messages.success(request, f"“{passkey.name}” was added.")
    return JsonResponse({"location": reverse("mfa_index")}, status=201)


# --- SMS and e-mail codes -----------------------------------------------------------------------------------


@login_required
@never_cache
@transaction.non_atomic_requests  # a wrong code's back-off is committed although the page shows an error
@require_http_methods(["GET", "POST"])
def message_setup_page(request: HttpRequest, channel: str) -> HttpResponse:
    """Step 1: where to send (phone number, or e-mail address defaulting to the account's); step 2: the code."""
    step, error, destination = "destination", None, ""
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "send":
        if channel == Channel.SMS:
            payload = SmsSetupApi.InputSerializer(data={"phone_number": request.POST.get("phone_number", "")})
        else:
            payload = EmailSetupApi.InputSerializer(data={"email": request.POST.get("email") or request.user.email})
        if not payload.is_valid():
            error = _first_error(payload.errors)
            destination = request.POST.get("phone_number" if channel == Channel.SMS else "email", "")
        else:
            address = payload.validated_data.get("phone_number") or payload.validated_data.get("email")
            try:
                device = factors.message_setup(user=request.user, channel=channel, destination=address)
            except ApplicationError as exc:
                error, destination = exc.detail, address
            else:
                step, destination = "code", device.name
    elif action == "confirm":
        step, destination = "code", request.POST.get("destination_label", "")[:100]
        if not hit("MFA_VERIFY", f"user:{request.user.pk}").allowed:
            error = TOO_MANY_ATTEMPTS
        else:
            try:
                factors.message_confirm(user=request.user, channel=channel, code=request.POST.get("code", "")[:64])
            except ApplicationError as exc:
                error = exc.detail
            else:
                label = "SMS codes are" if channel == Channel.SMS else "E-mail codes are"
                messages.success(request, f"{label} set up.")
                return redirect("mfa_index")
    return render(request, "mfa/message_setup.html", {
        "channel": channel, "channel_label": Channel(channel).label, "step": step, "error": error,
        "destination": destination, "account_email": request.user.email,
    }, status=400 if error else 200)


# --- backup codes and removal: both need a recent reauthentication ----------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@reauthentication_required(allow_get=True, app=REAUTHENTICATE_ALWAYS)
def backup_codes_page(request: HttpRequest) -> HttpResponse:
    """GET: how many are left; POST: ten new ones, shown in this answer only (stored hashed)."""
    if request.method == "POST":
        codes = factors.backup_codes_regenerate(user=request.user)
        return render(request, "mfa/backup_codes.html", {"codes": codes})
    return render(request, "mfa/backup_codes.html", {"remaining": factors.backup_codes_remaining(request.user)})


@login_required
@require_POST
def factor_remove_page(request: HttpRequest, factor_id: str) -> HttpResponse:
    try:
        factor = factors.factor_get(user=request.user, factor_id=str(factor_id))
    except FactorNotFound:
        raise Http404("No such factor.") from None  # someone else's or gone: 404 before asking to reauthenticate
    raise_if_reauthentication_required(request, app=REAUTHENTICATE_ALWAYS)
    factors.factor_remove(user=request.user, factor_id=str(factor.pk), actor=request.user)
    messages.success(request, f"“{factor.name}” was removed.")
    return redirect("mfa_index")


# --- the second step of signing in (login stage) -----------------------------------------------------------


def _stage_answer(request: HttpRequest, stage: AuthenticateStage, prove: Callable[[], Factor], *,
                  remember: bool) -> tuple[HttpResponse | None, str | None]:
    """Run `prove` (one service check). Right: the stage ends and allauth resumes the login (response).
    Wrong: the error, counted; the last allowed failure ends the pending login (response and error)."""
    user = stage.login.user
    if not hit("MFA_VERIFY", f"ip:{client_ip(request)}").allowed:
        return None, TOO_MANY_ATTEMPTS
    try:
        factor = prove()
    except ApplicationError as exc:
        failures = int(stage.state.get("failures", 0)) + 1
        stage.state["failures"] = failures
        if failures >= settings.MFA_CHALLENGE_MAX_FAILURES:
            with transaction.atomic():
                emit(action="mfa_challenge.voided", actor=None, target=user, outcome="failure",
                     metadata={"failures": failures})
            return stage.abort(), TOO_MANY_WRONG
        stash_login(request, stage.login)
        return None, exc.detail
    # Read by apps.accounts.services.browser when the session opens: its amr gets "mfa".
    record_authentication(request, user, method="mfa", type=FactorType(factor.factor_type).value, id=str(factor.pk))
    response = stage.exit()
    if remember:
        _remember_browser(request, response, user)
    return response, None


def _stage_for_json(request: HttpRequest) -> AuthenticateStage | None:
    if request.user.is_authenticated:
        return None
    return LoginStageController.enter(request, AuthenticateStage.key)


@transaction.non_atomic_requests  # failures (throttle, audit) are committed although the answer is an error
@login_stage_required(stage=AuthenticateStage.key, redirect_urlname="account_login")
@require_http_methods(["GET", "POST"])
def authenticate_page(request: HttpRequest) -> HttpResponse:
    stage: AuthenticateStage = request._login_stage  # type: ignore[attr-defined]
    user = stage.login.user
    enrolled = factors.factors_of(user)
    methods = factors.methods_of(user)
    default = next((m for m in methods if m != FactorType.BACKUP_CODE), None)
    if default is None:  # factors removed meanwhile: nothing to ask
        return stage.exit()
    method = request.POST.get("method") or request.GET.get("method") or default
    if method not in methods:
        method = default
    error = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "cancel":
            return stage.abort()
        if action == "send" and method in MESSAGE_METHODS:
            device = next((f for f in enrolled if f.factor_type == method
                           and str(f.pk) == request.POST.get("device_id")), None)
            if device is None:
                error = "Choose where to send the code."
            else:
                try:
                    factors.message_code_send(device=device)
                except ApplicationError as exc:
                    error = exc.detail
                else:
                    stage.state["sent"] = sorted({*stage.state.get("sent", []), method})
                    stash_login(request, stage.login)
                    messages.info(request, f"A code is on its way ({device.name}).")
                    return redirect(f"{reverse('mfa_authenticate')}?method={method}")
        elif action == "verify" and method != FactorType.WEBAUTHN:
            code = request.POST.get("code", "")[:64]
            response, error = _stage_answer(
                request, stage, lambda: factors.factor_verify_code(user=user, method=method, code=code),
                remember=request.POST.get("remember") == "1")
            if response is not None:
                if error:
                    messages.error(request, error)
                return response
    label, inputmode = CODE_PROMPTS.get(method, ("Code", "numeric"))
    return render(request, "mfa/authenticate.html", {
        "method": method,
        "method_label": FactorType(method).label,
        "other_methods": [(m, FactorType(m).label) for m in methods if m != method],
        "devices": [f for f in enrolled if f.factor_type == method] if method in MESSAGE_METHODS else [],
        "code_sent": method in stage.state.get("sent", []),
        "code_label": label,
        "code_inputmode": inputmode,
        "error": error,
        "remember_days": settings.MFA_REMEMBER_DEVICE_DAYS,
    }, status=400 if error else 200)


@require_POST
def authenticate_webauthn_options(request: HttpRequest) -> JsonResponse:
    stage = _stage_for_json(request)
    if stage is None:
        return _json_error(STAGE_OVER, location=reverse("account_login"))
    ceremony_id, public_key = webauthn.authentication_options(user=stage.login.user)
    return JsonResponse({"ceremony_id": ceremony_id, "publicKey": public_key})


@transaction.non_atomic_requests
@require_POST
def authenticate_webauthn_verify(request: HttpRequest) -> JsonResponse:
    stage = _stage_for_json(request)
    if stage is None:
        return _json_error(STAGE_OVER, location=reverse("account_login"))
    body = _json_body(request)
    ceremony_id, credential = _ceremony_answer(body)
    user = stage.login.user
    response, error = _stage_answer(
        request, stage,
        lambda: webauthn.authentication_verify(ceremony_id=ceremony_id, credential=credential, user=user),
        remember=body.get("remember") is True)
    if response is None:
        return _json_error(error or "The security key was refused.", status=429 if error == TOO_MANY_ATTEMPTS else 400)
    if error:
        messages.error(request, error)
    return _as_json(response, error=error)


# --- passwordless sign-in with a passkey -------------------------------------------------------------------


@never_cache
@require_GET
def passkey_login_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(get_login_redirect_url(request))
    return render(request, "mfa/passkey_login.html")


@require_POST
def passkey_login_options(request: HttpRequest) -> JsonResponse:
    ceremony_id, public_key = webauthn.authentication_options(user=None, user_verification="required")
    return JsonResponse({"ceremony_id": ceremony_id, "publicKey": public_key})


@transaction.non_atomic_requests  # a cloned authenticator's audit event is committed although the answer is an error
@require_POST
def passkey_login_verify(request: HttpRequest) -> JsonResponse:
    if not hit("MFA_VERIFY", "passkey", client_ip(request) or "-").allowed:
        return _json_error(TOO_MANY_ATTEMPTS, status=429)
    body = _json_body(request)
    ceremony_id, credential = _ceremony_answer(body)
    try:
        passkey = webauthn.authentication_verify(ceremony_id=ceremony_id, credential=credential,
                                                 require_user_verification=True)
    except ApplicationError as exc:
        return _json_error(exc.detail)
    user = passkey.user
    if not user.is_active:
        return _json_error("This account is suspended; contact your administrator.", status=403)
    if request.user.is_authenticated:
        logout(request)  # switching accounts: the other one's session ends first
    clear_login(request)  # a half-finished password sign-in in this browser is dropped
    # Before login(): apps.accounts.services.browser reads this record when the session opens.
    record_authentication(request, user, method="mfa", type=FactorType.WEBAUTHN.value, id=str(passkey.pk),
                          passwordless=True)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    next_url = body.get("next")
    if not (isinstance(next_url, str) and next_url and get_adapter(request).is_safe_url(next_url)):
        next_url = get_login_redirect_url(request)
    return JsonResponse({"location": next_url})
