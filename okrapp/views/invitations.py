"""Accepting an invitation: the one page reached by someone who is not a member yet."""

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from okrapp import services
from okrapp.forms import AcceptInvitationForm, apply_service_errors
from okrapp.models import User
from okrapp.sso import services as sso


def _sso_refusal(request, invitation, route: sso.InvitationSso, user) -> str:
    """Why this invitation cannot be accepted here and now ("" when it can).

    When the organisation requires single sign-on, nobody invited as a member or manager
    gets a password here: they accept by signing in through the organisation's IdP (which
    accepts the invitation for them). Someone already signed in may accept when they came
    in through that IdP, or when their account belongs to other organisations (the IdP may
    not take over such an account; their next sign-in to this organisation is through SSO).
    """
    org = route.org
    if not route.domain_allowed:
        return _(
            "%(org)s requires single sign-on, and its identity provider does not sign in "
            "%(domain)s addresses. Ask the admin who invited you to invite your work address."
        ) % {"org": org.name, "domain": sso.email_domain(invitation.email)}
    if user is not None and (
        sso.signed_in_through_idp(request, org) or user.memberships.filter(active=True).exists()
    ):
        return ""
    if user is None and _trusted_elsewhere(invitation.email):
        return _(
            "Log in as you usually do, then accept here. From then on you sign in to "
            "%(org)s through its single sign-on."
        ) % {"org": org.name}
    return _(
        "%(org)s requires single sign-on: accept this invitation by signing in through "
        "%(org)s's identity provider with %(email)s. No password is needed."
    ) % {"org": org.name, "email": invitation.email}


def _trusted_elsewhere(email: str) -> bool:
    """An account that belongs to other organisations (the IdP may not take it over)."""
    user = User.objects.filter(email__iexact=email).first()
    return user is not None and user.memberships.filter(active=True).exists()


@never_cache
def invitation_accept(request, token):
    try:
        invitation = services.invitation_from_token(token)
    except services.InvitationUnusable as exc:
        status = 404 if exc.invitation is None else 410
        return render(
            request,
            "okrapp/invitation_unusable.html",
            {"message": exc.message, "invitation": exc.invitation},
            status=status,
        )
    org = invitation.organization
    user = request.user if request.user.is_authenticated else None
    has_account = user is not None or User.objects.filter(email__iexact=invitation.email).exists()
    signed_in_as_other = user is not None and user.email.lower() != invitation.email.lower()
    sso_route = sso.invitation_sso(invitation)
    sso_message = (
        _sso_refusal(request, invitation, sso_route, user)
        if sso_route is not None and not signed_in_as_other
        else ""
    )
    # Someone new sets a name and password here; someone with an account signs in first.
    form = (
        AcceptInvitationForm(request.POST or None)
        if not has_account and sso_route is None
        else None
    )
    errors: list[str] = []
    if request.method == "POST" and sso_message:
        errors = [sso_message]  # nothing is created: no account, no password, no membership
    can_accept = not sso_message and (user is not None or (form is not None and form.is_valid()))
    if request.method == "POST" and not signed_in_as_other and can_accept:
        try:
            if user is not None:
                services.invitation_accept(invitation=invitation, user=user)
            else:
                membership = services.invitation_accept(
                    invitation=invitation,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password"],
                )
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        except ValidationError as exc:
            if form is not None:
                apply_service_errors(form, exc)
            else:
                errors = exc.messages
        else:
            messages.success(request, _("Welcome to %(org)s.") % {"org": org.name})
            return redirect(org)
    context = {
        "invitation": invitation,
        "org": org,
        "form": form,
        "errors": errors,
        "has_account": has_account,
        "signed_in_as_other": signed_in_as_other,
        "sso_message": sso_message,
        "sso_start": bool(sso_message)
        and sso_route.domain_allowed
        and not (user is None and _trusted_elsewhere(invitation.email)),
    }
    status = 400 if errors or (form is not None and form.errors) else 200
    return render(request, "okrapp/invitation_accept.html", context, status=status)
