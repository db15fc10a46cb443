"""Celery tasks of the tenancy core. Tasks take ids, re-read their rows and are idempotent."""

from celery import shared_task
from django.conf import settings

from okrapp.mail import send_templated_mail
from okrapp.models import Invitation


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(org_id: int, invitation_id: int) -> bool:
    """Mail the current link of an open invitation; a stale or used one sends nothing."""
    invitation = (
        Invitation.objects.for_org(org_id)
        .select_related("organization", "invited_by__user")
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is None or invitation.is_expired:
        return False
    org = invitation.organization
    send_templated_mail(
        to=[invitation.email],
        template="okrapp/mail/invitation",
        context={
            "invitation": invitation,
            "org": org,
            "url": invitation.url,
            "valid_days": settings.INVITATION_VALID_DAYS,
        },
        language=org.language,
    )
    return True
