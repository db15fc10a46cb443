"""Celery tasks of the cadence. Tasks take ids, re-read their rows and are idempotent.

The beat runs :func:`cadence_tick` every 15 minutes (UTC); it fans out one
:func:`cadence_tick_org` per organisation with a running cycle, which claims what is due
(``checkins.reminders``) and hands the claims to :func:`send_notifications` in batches.
No task waits with a countdown: on Redis a long ETA is delivered twice.
"""

import logging
import random

from celery import shared_task
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from checkins import notifications, reminders
from checkins.models import Comment
from cycles.models import Cycle, CycleState
from cycles.services import cycle_close_at_deadline
from okrapp.models import Membership, Organization

log = logging.getLogger(__name__)
BATCH = 50


@shared_task(acks_late=True, system_scope=True)
def cadence_tick() -> int:
    """Every organisation with an active or scoring cycle gets its own tick task.

    The one task that reads across organisations (``system_scope``: row-level security
    lets it see them all); the per-organisation tasks it starts see their own only.
    """
    running = Cycle.objects.filter(
        organization=OuterRef("pk"), state__in=[CycleState.ACTIVE, CycleState.SCORING]
    )
    org_ids = list(Organization.objects.filter(Exists(running)).values_list("id", flat=True))
    for org_id in org_ids:
        cadence_tick_org.delay(org_id)
    return len(org_ids)


@shared_task(acks_late=True)
def cadence_tick_org(org_id: int) -> int:
    """Claim what is due and dispatch it, with the claims earlier workers left behind.

    First the claims a dead worker left "sending" are settled where the mail backend can
    say what happened (``reminders.recover_stuck``); those provably not delivered are
    "claimed" again and the lost-claim sweep of ``claim_due`` dispatches them with the
    rest. What cannot be settled stays "sending" and is reported.
    """
    org = Organization.objects.get(pk=org_id)
    now = timezone.now()
    if Cycle.objects.for_org(org).past_scoring_deadline(org, now).exists():
        close_scoring_at_deadline.delay(org_id)
    reminders.recover_stuck(org, now)
    claim_ids = reminders.claim_due(org, now)
    _dispatch(org_id, claim_ids)
    stuck = reminders.stuck_claims(org, now).count()
    if stuck:
        log.warning(
            "%s: %s notification(s) stuck in 'sending' (worker died mid-send, and the mail "
            "backend cannot tell whether they went); see the cadence page",
            org.slug,
            stuck,
        )
    return len(claim_ids)


def _dispatch(org_id: int, claim_ids: list[int]) -> None:
    for start in range(0, len(claim_ids), BATCH):
        send_notifications.delay(org_id, claim_ids[start : start + BATCH])


def retry_delay(retries: int, base: int = 30, cap: int = 600) -> float:
    """Exponential backoff with "equal jitter": between half and all of ``base * 2**n``.

    Celery's own ``retry_jitter`` draws from zero upwards, so a retry could come at once
    and hit a service that just answered 503; the floor keeps every retry a real wait,
    the random half keeps a batch of failed tasks from retrying in lockstep.
    """
    delay = min(cap, base * 2**retries)
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not a secret


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=6)
def send_notifications(self, org_id: int, claim_ids: list[int]) -> dict:
    """Send a batch of claims; safe to run twice (each claim is won by one worker).

    Claims a channel refused go back to "claimed" (``send_claims`` raises SendFailed);
    the task retries with backoff and only those are sent again. A run after the claims'
    week ended (a late retry or delivery, an admin's resend) gives them up instead.
    """
    org = Organization.objects.get(pk=org_id)
    reminders.give_up_ended_weeks(org, timezone.now(), claim_ids)
    try:
        return notifications.send_claims(org, claim_ids)
    except notifications.SendFailed as exc:
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc


@shared_task(acks_late=True)
def request_scores(org_id: int, cycle_id: int) -> int:
    """The cycle entered scoring: ask each owner (once) to score their key results."""
    from checkins.services import current_week

    org = Organization.objects.get(pk=org_id)
    cycle = Cycle.objects.for_org(org).filter(pk=cycle_id, state=CycleState.SCORING).first()
    if cycle is None:
        return 0
    claim_ids = notifications.request_scores(org, cycle, current_week(org))
    _dispatch(org_id, claim_ids)
    return len(claim_ids)


@shared_task(acks_late=True)
def close_scoring_at_deadline(org_id: int) -> int:
    """Close scoring of the cycles whose scoring deadline day has ended on the organisation's
    clock; each close has the report built as an admin's does. Queued by the tick when one
    is due, on its own so that a failure here holds up no reminder; safe to run twice
    (closed is closed)."""
    org = Organization.objects.get(pk=org_id)
    now = timezone.now()
    due = Cycle.objects.for_org(org).past_scoring_deadline(org, now).order_by("pk")
    return sum(cycle_close_at_deadline(org=org, cycle=cycle, now=now) is not None for cycle in due)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_mention_email(org_id: int, comment_id: int, membership_id: int) -> bool:
    """Tell a member they were mentioned in a comment, once (nothing if either is gone)."""
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
        .filter(pk=membership_id, notify_mentions=True)
        .first()
    )
    if comment is None or person is None:
        return False
    subject = comment.key_result or comment.objective or comment.checkin.key_result
    # Once per comment and person, however often this task is delivered.
    return notifications.send_once(
        org_id=org_id,
        key=f"mention.{comment_id}.{membership_id}",
        to=[person.user.email],
        template="checkins/mail/mention",
        context={
            "comment": comment,
            "person": person,
            "org": comment.organization,
            "subject": subject,
            "url": notifications.absolute(subject.get_absolute_url()),
            "preferences_url": notifications.absolute(
                reverse("notification_settings", kwargs={"org_slug": comment.organization.slug})
            ),
        },
        language=person.language,
    )


from checkins import (  # noqa: E402 - after the tasks, as Celery registers them
    portability_tasks,  # noqa: F401 - Celery registers the export task
    report_tasks,  # noqa: F401 - Celery registers the report tasks
)
