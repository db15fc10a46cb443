"""A person's own profile in an organisation: name, time zone, language, and API tokens."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from okrapp import services
from okrapp.forms import ApiTokenForm, ProfileForm, apply_service_errors
from okrapp.models import ApiToken
from okrapp.rendering import render_page


def _profile_form(membership, data=None) -> ProfileForm:
    return ProfileForm(
        data,
        initial={
            "full_name": membership.user.full_name,
            "time_zone": membership.time_zone,
            "language": membership.language,
        },
    )


def _page(request, *, form=None, token_form=None, partial=None, status=200, **extra):
    tokens = ApiToken.objects.for_org(request.org).filter(membership=request.membership)
    context = {
        "form": form or _profile_form(request.membership),
        "token_form": token_form or ApiTokenForm(),
        "tokens": list(tokens),
        **extra,
    }
    return render_page(request, "okrapp/profile.html", context, partial=partial, status=status)


def profile(request, org_slug):
    membership = request.membership
    form = _profile_form(membership, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(membership=membership, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            translation.activate(membership.language)
            messages.success(request, _("Profile saved."))
            return redirect("profile", org_slug=request.org.slug)
    return _page(request, form=form, status=400 if form.errors else 200)


@require_POST
def api_token_create(request, org_slug):
    """Make a token and show its secret in this response only; it is never stored."""
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, secret = services.api_token_create(
                org=request.org, by=request.membership, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            response = _page(request, partial="api-tokens", new_token=token, new_secret=secret)
            add_never_cache_headers(response)
            return response
    return _page(request, token_form=form, partial="api-tokens", status=400)


@require_POST
def api_token_revoke(request, org_slug, token_id):
    own_tokens = ApiToken.objects.for_org(request.org).filter(membership=request.membership)
    token = get_object_or_404(own_tokens, pk=token_id)
    services.api_token_revoke(org=request.org, by=request.membership, token=token)
    messages.success(
        request, _("Token “%(name)s” revoked; it stops working at once.") % {"name": token.name}
    )
    return redirect(reverse("profile", kwargs={"org_slug": request.org.slug}) + "#api-tokens")
