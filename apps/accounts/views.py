"""Server-rendered account pages of ours (allauth renders the rest under /accounts/): Security, Sessions."""

from __future__ import annotations

from allauth.account.internal.flows.login import perform_login, record_authentication
from allauth.account.models import EmailAddress, Login
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.accounts import selectors
from apps.accounts.errors import SessionNotFound
from apps.accounts.services.browser import SESSION_KEY
from apps.accounts.services.recovery import InvalidToken, magic_link_consume
from apps.accounts.services.sessions import session_revoke, session_revoke_all


@login_required
def security_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(request, "account/security.html", {
        "email_addresses": EmailAddress.objects.filter(user=user).order_by("-primary", "email"),
        "has_password": user.has_usable_password(),
        "social_accounts": SocialAccount.objects.filter(user=user).order_by("provider"),
        "active_sessions": selectors.session_list_active(user=user).count(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def sessions_page(request: HttpRequest) -> HttpResponse:
    current_id = request.session.get(SESSION_KEY)
    if request.method == "POST":
        if request.POST.get("action") == "revoke_others":
            count = session_revoke_all(user=request.user, reason="revoked_by_user", actor=request.user,
                                       keep=current_id)
            messages.success(request, f"Signed out {count} other session(s).")
        else:
            try:
                session = selectors.session_get(user=request.user, session_id=request.POST.get("session_id", ""),
                                                active_only=True)
            except SessionNotFound:
                messages.error(request, "That session has already ended.")
            else:
                session_revoke(session=session, reason="revoked_by_user", actor=request.user)
                messages.success(request, "The session was signed out.")
        return redirect("account_sessions")
    return render(request, "account/sessions.html", {
        "sessions": selectors.session_list_active(user=request.user), "current_id": current_id,
    })


@require_http_methods(["GET", "POST"])
def magic_link_page(request: HttpRequest) -> HttpResponse:
    """Where e-mailed sign-in links land. GET only asks for a click: mail scanners that follow links
    must not burn the single-use token; the POST signs the browser in."""
    token = request.GET.get("token", "")
    if request.method == "POST":
        try:
            user = magic_link_consume(token=request.POST.get("token", ""))
        except InvalidToken as exc:
            return render(request, "account/magic_link.html", {"error": exc.detail}, status=400)
        # Through allauth's login, so its stages (a second factor, when enrolled) apply as on every page.
        record_authentication(request, user, method="magic_link")
        return perform_login(request, Login(user=user, email=user.email, redirect_url=settings.LOGIN_REDIRECT_URL))
    return render(request, "account/magic_link.html", {"token": token})
