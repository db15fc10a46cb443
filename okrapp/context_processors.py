from django.conf import settings
from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict:
    """The organisation and membership the URL resolved (see ``TenantMiddleware``)."""
    return {
        "org": getattr(request, "org", None),
        "membership": getattr(request, "membership", None),
        "signup_open": settings.SIGNUP_OPEN,
    }
