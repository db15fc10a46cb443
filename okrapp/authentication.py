"""Personal API tokens for DRF.

Kept apart from ``okrapp.api``: DRF imports authentication classes while ``rest_framework.views``
is still loading, so this module must not import views or viewsets.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from okrapp.models import ApiToken


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <secret>`` (or ``Token <secret>``) with a personal token."""

    keywords = (b"bearer", b"token")
    # Writing last_used_at on every call would turn each GET into a write.
    touch_every = timedelta(minutes=1)
    invalid = _("Invalid or revoked API token.")

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Malformed Authorization header: send “Bearer <token>”.")
            )
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(self.invalid) from exc
        token = self._find(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(self.invalid)
        self._touch(token)
        return token.membership.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    @staticmethod
    def _find(secret: str) -> ApiToken | None:
        org_id = ApiToken.org_id_of(secret)
        if org_id is None:
            return None
        return (
            ApiToken.objects.for_org(org_id)
            .usable()
            .select_related("membership__user", "membership__organization")
            .filter(key_hash=ApiToken.hash_secret(secret))
            .first()
        )

    def _touch(self, token: ApiToken) -> None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= self.touch_every:
            ApiToken.objects.for_org(token.organization_id).filter(pk=token.pk).update(
                last_used_at=now
            )
            token.last_used_at = now
