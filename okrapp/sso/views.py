"""The organisation's SSO settings page (admins) and "Sign in with your organisation's SSO"."""

from allauth.socialaccount.providers.base import AuthProcess
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from okrapp.forms import apply_service_errors
from okrapp.sso import services
from okrapp.sso.forms import SsoConfigurationForm, SsoLoginForm
from okrapp.sso.models import provider_id_for
from okrapp.tenancy import admin_required


def _secret_hint(secret: str) -> str:
    """Enough of a stored secret to recognise it, never enough to use it."""
    if not secret:
        return ""
    return "•" * 8 + (secret[-4:] if len(secret) >= 16 else "")


@admin_required
def sso_settings(request, org_slug):
    org = request.org
    config = services.sso_configuration_for(org)
    initial = {}
    if config is not None:
        initial = {
            "oidc_issuer": config.oidc_issuer,
            "oidc_client_id": config.oidc_client_id,
            "saml_metadata_url": config.saml_metadata_url,
            "saml_metadata_xml": config.saml_metadata_xml,
            "allowed_domains": "\n".join(services.sso_domains_of(org)),
            "sso_required": config.sso_required,
        }
    form = SsoConfigurationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.sso_configure(
                org=org, by=request.membership, values=services.SsoSettings(**form.cleaned_data)
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Single sign-on settings saved."))
            return redirect("org_sso", org_slug=org.slug)
    provider_id = provider_id_for(org.slug)
    site = settings.SITE_URL
    context = {
        "form": form,
        "config": config,
        "secret_hint": _secret_hint(config.oidc_client_secret) if config else "",
        "oidc_redirect_uri": f"{site}/accounts/oidc/{provider_id}/login/callback/",
        "saml_acs_url": f"{site}/accounts/saml/{provider_id}/acs/",
        "saml_metadata_url": f"{site}/accounts/saml/{provider_id}/metadata/",
    }
    status = 400 if form.errors else 200
    return render(request, "okrapp/sso_settings.html", context, status=status)


@require_http_methods(["GET", "POST"])
def sso_login(request):
    """Find the organisation someone names and send them to its identity provider.

    A POST (with the CSRF token) starts the flow, so no other site can sign a visitor in
    through an IdP of its choosing.
    """
    # A link may prefill the address (the invitation page does, with the invited email).
    initial = {
        "next": request.GET.get("next", ""),
        "organization": request.GET.get("organization", "")[:254],
    }
    form = SsoLoginForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        org = services.organization_for_sso(form.cleaned_data["organization"])
        app = services.sso_app_for_login(org) if org is not None else None
        if app is None:
            form.add_error(
                "organization",
                _(
                    "No single sign-on is set up for “%(query)s”. Check the address, or log "
                    "in with your password."
                )
                % {"query": form.cleaned_data["organization"]},
            )
        else:
            next_url = form.cleaned_data["next"]
            if not next_url or not url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                next_url = org.get_absolute_url()
            provider = app.get_provider(request)
            return provider.redirect(request, process=AuthProcess.LOGIN, next_url=next_url)
    status = 400 if form.errors else 200
    return render(request, "account/sso_login.html", {"form": form}, status=status)
