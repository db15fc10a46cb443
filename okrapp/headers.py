"""Response headers the security middleware of Django and django-csp do not set.

* ``Permissions-Policy`` (``settings.PERMISSIONS_POLICY``) on every response.
* On the sign-in pages (``settings.CSP_SIGN_IN_PREFIX``) the CSP's ``form-action`` also
  allows ``settings.CSP_SIGN_IN_FORM_ACTION``: the single sign-on form posts to us and we
  answer with a redirect to the organisation's identity provider, which Chromium refuses
  under ``form-action 'self'``. Which IdP is only known after the form is sent, so the page
  cannot name it; everywhere else form-action stays ``'self'``.
"""

from django.conf import settings


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        prefix = getattr(settings, "CSP_SIGN_IN_PREFIX", None)
        if prefix and request.path_info.startswith(prefix):
            update = dict(getattr(response, "_csp_update", None) or {})
            update["form-action"] = list(settings.CSP_SIGN_IN_FORM_ACTION)
            response._csp_update = update
        return response
