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
    # Someone new sets a name and password here; someone with an account signs in first.
    form = AcceptInvitationForm(request.POST or None) if not has_account else None
    errors: list[str] = []
    can_accept = user is not None or (form is not None and form.is_valid())
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
    }
    status = 400 if errors or (form is not None and form.errors) else 200
    return render(request, "okrapp/invitation_accept.html", context, status=status)
