"""Server-rendered pages of orgs: where e-mailed invitation links land."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.core.errors import ApplicationError
from apps.orgs.services.invitations import InvitationInvalid, invitation_accept, invitation_get_by_token

TEMPLATE = "orgs/invitation_accept.html"


@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HttpRequest) -> HttpResponse:
    """`/invitations/accept/?token=…`: shows the invitation; a signed-in invitee accepts with a POST (CSRF),
    anyone else is offered to sign in or sign up and come back here. GET changes nothing, so mail
    scanners that follow links cannot accept for anyone."""
    token = (request.POST if request.method == "POST" else request.GET).get("token", "")
    here = f"{request.path}?{urlencode({'token': token})}"
    try:
        invitation = invitation_get_by_token(token=token)
    except InvitationInvalid as exc:
        return render(request, TEMPLATE, {"error": exc.detail}, status=exc.status)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': here})}")
        try:
            invitation_accept(token=token, user=request.user)
        except ApplicationError as exc:  # mismatch, already a member, used meanwhile…
            return render(request, TEMPLATE, {"error": exc.detail}, status=exc.status)
        messages.success(request, f"You joined {invitation.organization.name}.")
        return redirect("account_security")
    user = request.user
    inviter = invitation.invited_by
    return render(request, TEMPLATE, {
        "invitation": invitation,
        "organization": invitation.organization,
        "inviter_name": (inviter.display_name or inviter.get_full_name() or inviter.email) if inviter else "",
        "token": token,
        "next_query": urlencode({"next": here}),
        "email_matches": user.is_authenticated and user.email.strip().lower() == invitation.email.lower(),
    })
