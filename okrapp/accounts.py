"""How django-allauth fits okrapp: who may sign up, what a refused login answers, and who an
organisation's identity provider may sign in (single sign-on, see ``okrapp.sso``)."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.views import LoginView as AllauthLoginView
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base import AuthProcess
from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from okrapp.models import User
from okrapp.sso import services as sso


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Installations run for one company can close public sign-up; invitations still work.
        return getattr(settings, "SIGNUP_OPEN", True)

    def authenticate(self, request, **credentials):
        user = super().authenticate(request, **credentials)
        # Checked only once the password was right, so the policy tells a guesser nothing.
        if user is not None and "password" in credentials:
            org = sso.sso_required_for(user)
            if org is not None:
                raise forms.ValidationError(
                    _(
                        "%(org)s requires single sign-on: use “Sign in with your "
                        "organisation's SSO” below with your work email."
                    )
                    % {"org": org.name},
                    code="sso_required",
                )
        return user

    def pre_login(self, request, user, **kwargs):
        """The one gate every sign-in passes: a member of an organisation that requires SSO
        comes in only through an identity provider, whatever allauth flow signs them in
        (password, login after a password reset or sign-up, login by code)."""
        response = super().pre_login(request, user, **kwargs)
        if response is not None:
            return response
        org = sso.sso_required_for(user)
        if org is None or self._through_idp(request, user):
            return None
        from allauth.account.internal.flows.login import clear_authentication_records

        clear_authentication_records(request)
        messages.error(
            request,
            _(
                "%(org)s requires single sign-on: use “Sign in with your organisation's SSO” "
                "with your work email."
            )
            % {"org": org.name},
        )
        return redirect("sso_login")

    @staticmethod
    def _through_idp(request, user) -> bool:
        from allauth.account.authentication import get_authentication_records

        records = get_authentication_records(request, user)
        return bool(records) and records[-1].get("method") == "socialaccount"


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Sign-ins through an organisation's IdP: allowed email domains only, just-in-time join.

    allauth calls ``pre_social_login`` after the IdP answered and before anyone is signed
    in or created; a refusal there leaves no account and no membership behind.
    """

    def list_apps(self, request, provider=None, client_id=None):
        # Organisations' OIDC client secrets are stored encrypted in SsoConfiguration, not
        # in SocialApp.secret: allauth gets them here, in memory only.
        apps = super().list_apps(request, provider=provider, client_id=client_id)
        for app in apps:
            secret = sso.secret_for_app(app)
            if secret is not None:
                app.secret = secret
        return apps

    def _organization(self, sociallogin):
        org = sso.organization_of_app(sociallogin.provider.app)
        if org is None:
            raise sso.SsoRefused(_("This single sign-on is not configured."))
        return org

    def _refuse(self, request, message: str):
        messages.error(request, message)
        raise ImmediateHttpResponse(redirect("account_login"))

    def pre_social_login(self, request, sociallogin) -> None:
        try:
            org = self._organization(sociallogin)
            if sociallogin.state.get("process", AuthProcess.LOGIN) != AuthProcess.LOGIN:
                # Connecting an IdP account to whoever is signed in would bypass sso_admit.
                raise sso.SsoRefused(_("Sign in through single sign-on instead."))
            email = self._email_of(sociallogin)
            if sociallogin.is_existing:
                user = sociallogin.user
            else:
                user = User.objects.filter(email__iexact=email).first() if email else None
            sso.sso_admit(org=org, email=email, user=user)
        except sso.SsoRefused as refusal:
            self._refuse(request, refusal.message)
        if user is not None:
            if not sociallogin.is_existing:
                # The org's IdP speaks for this domain (sso_admit), so the account is theirs.
                sociallogin.connect(request, user)
            sso.sso_join(org=org, user=user)
        sociallogin.state["okrapp_org"] = org.slug

    @staticmethod
    def _email_of(sociallogin) -> str:
        for address in sociallogin.email_addresses:
            if address.primary:
                return address.email.strip().lower()
        if sociallogin.email_addresses:
            return sociallogin.email_addresses[0].email.strip().lower()
        return (sociallogin.user.email or "").strip().lower()

    def is_open_for_signup(self, request, sociallogin) -> bool:
        # pre_social_login already admitted this person for their organisation's domain.
        return True

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        name = data.get("name") or " ".join(
            part for part in (data.get("first_name"), data.get("last_name")) if part
        )
        user.full_name = (name or "").strip()[:150]
        user.email = (user.email or "").lower()
        return user

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        org = self._organization(sociallogin)
        sso.sso_join(org=org, user=user)
        return user


class LoginView(AllauthLoginView):
    """allauth's login, answering a refused attempt with a 4xx instead of 200.

    Wrong credentials are 400; too many failures (the rate limit in the shared cache) 429.
    """

    def form_invalid(self, form):
        response = super().form_invalid(form)
        limited = any(
            error.code == "too_many_login_attempts"
            for error in form.errors.as_data().get("__all__", [])
        )
        response.status_code = 429 if limited else 400
        return response


login = LoginView.as_view()
