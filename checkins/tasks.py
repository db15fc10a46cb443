"""Celery tasks of the cadence. Tasks take ids, re-read their rows and are idempotent."""

from celery import shared_task

from checkins.models import Comment
from okrapp.mail import send_templated_mail
from okrapp.models import Membership


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_mention_email(org_id: int, comment_id: int, membership_id: int) -> bool:
    """Tell a member they were mentioned in a comment (nothing if either is gone)."""
    comment = (
        Comment.objects.for_org(org_id)
        .select_related(
            "author__user", "organization", "key_result", "objective", "checkin__key_result"
        )
        .filter(pk=comment_id)
        .first()
    )
    person = (
        Membership.objects.for_org(org_id)
        .active()
        .select_related("user")
        .filter(pk=membership_id)
        .first()
    )
    if comment is None or person is None:
        return False
    subject = comment.key_result or comment.objective or comment.checkin.key_result
    send_templated_mail(
        to=[person.user.email],
        template="checkins/mail/mention",
        context={
            "comment": comment,
            "person": person,
            "org": comment.organization,
            "subject": subject,
            "url": _absolute(subject.get_absolute_url()),
        },
        language=person.language,
    )
    return True


def _absolute(path: str) -> str:
    from django.conf import settings

    return settings.SITE_URL + path
