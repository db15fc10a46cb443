"""How django-allauth fits okrapp: who may sign up, and what a refused login answers."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.views import LoginView as AllauthLoginView
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Installations run for one company can close public sign-up; invitations still work.
        return getattr(settings, "SIGNUP_OPEN", True)


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
