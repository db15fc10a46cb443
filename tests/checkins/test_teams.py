"""Reminders and manager digests to a Teams incoming webhook, exactly once, with retries."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from celery.exceptions import Retry
from django.core import mail

from checkins import integrations, notifications, reminders, services
from checkins.models import Channel, ClaimStatus, NotificationClaim
from checkins.tasks import retry_delay, send_notifications
from tests.checkins.chat_fake import connected, fake_chat  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def at(day_offset, hour, minute=0):
    """A UTC instant after Monday 23 Nov 2026 (Acme: Taipei, Mondays 10:00 = 02:00 UTC)."""
    return datetime(2026, 11, 23, hour, minute, tzinfo=UTC) + timedelta(days=day_offset)


def run(org, now):
    ids = reminders.claim_due(org, now)
    if ids:
        notifications.send_claims(org, ids)
    return ids


def teams_posts(fake):
    return fake.calls("teams-webhook")


def test_a_reminder_goes_to_teams_and_mail_once_each(acme, carol, kr, connected, fake_chat):  # noqa: F811
    integrations.channel_preferences_set(org=acme, membership=carol, reminders_teams=True)
    run(acme, at(0, 3))
    run(acme, at(0, 3, 15))  # a second tick in the same week
    posts = teams_posts(fake_chat)
    assert len(posts) == 1
    card = posts[0].json
    assert card["@type"] == "MessageCard"
    assert "Carol Tsai" in card["sections"][0]["activityTitle"]
    assert kr.title in card["sections"][0]["text"]
    assert card["potentialAction"][0]["targets"][0]["uri"].endswith("/acme/my-week/")
    assert len(mail.outbox) == 1
    channels = sorted(NotificationClaim.objects.for_org(acme).values_list("channel", "status"))
    assert channels == [("email", ClaimStatus.SENT), ("teams", ClaimStatus.SENT)]


def test_teams_only_when_mail_is_switched_off(acme, carol, kr, connected, fake_chat):  # noqa: F811
    integrations.channel_preferences_set(
        org=acme, membership=carol, reminders_email=False, reminders_teams=True
    )
    run(acme, at(0, 3))
    assert mail.outbox == [] and len(teams_posts(fake_chat)) == 1


def test_no_teams_without_the_opt_in_or_the_webhook(acme, alice, carol, kr, connected, fake_chat):  # noqa: F811
    run(acme, at(0, 3))
    assert teams_posts(fake_chat) == []  # carol did not opt in
    integrations.channel_preferences_set(org=acme, membership=carol, reminders_teams=True)
    integrations.integration_save(org=acme, by=alice, remove_teams=True)
    NotificationClaim.objects.for_org(acme).delete()
    run(acme, at(0, 4))
    assert teams_posts(fake_chat) == []  # the organisation disconnected Teams
    assert not NotificationClaim.objects.for_org(acme).filter(channel=Channel.TEAMS).exists()


@pytest.mark.parametrize("failure", [500, "timeout"])
def test_a_failed_post_is_retried_and_sent_once(acme, carol, kr, connected, fake_chat, failure):  # noqa: F811
    integrations.channel_preferences_set(
        org=acme, membership=carol, reminders_email=False, reminders_teams=True
    )
    fake_chat.fail_next(failure)
    ids = reminders.claim_due(acme, at(0, 3))
    with pytest.raises(notifications.SendFailed):
        notifications.send_claims(acme, ids)
    claim = NotificationClaim.objects.for_org(acme).get()
    assert claim.status == ClaimStatus.CLAIMED and claim.error
    notifications.send_claims(acme, ids)  # the task's retry
    notifications.send_claims(acme, ids)  # and a duplicated one
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SENT and claim.attempts == 2
    assert len(teams_posts(fake_chat)) == 2  # the failed attempt, then exactly one more
    assert reminders.claim_due(acme, at(0, 5)) == []


def test_the_task_retries_with_backoff_until_sent(acme, carol, kr, connected, fake_chat):  # noqa: F811
    integrations.channel_preferences_set(
        org=acme, membership=carol, reminders_email=False, reminders_teams=True
    )
    fake_chat.fail_next(503, 502)
    # A claim of the real current week: the task gives up claims of a week that has ended.
    acme.checkin_weekday, acme.checkin_hour = 0, 0
    acme.save()
    week_start, _end = reminders.week_bounds(acme, services.current_week(acme))
    ids = reminders.claim_due(acme, week_start)
    retries = []
    while True:  # eager Celery raises Retry where a worker would schedule it
        try:
            send_notifications.delay(acme.pk, ids)
            break
        except Retry as retry:
            retries.append(retry.when)
    assert len(retries) == 2
    # each retry waits (eager calls start at retries=0; the growth is tested below)
    assert all(15 <= when <= 30 for when in retries)
    assert len(teams_posts(fake_chat)) == 3
    assert NotificationClaim.objects.for_org(acme).get().status == ClaimStatus.SENT


def test_manager_digest_goes_to_teams(acme, bob, carol, kr, kr2, connected, fake_chat):  # noqa: F811
    services.checkin_record(
        org=acme,
        by=carol,
        key_result=kr2,
        value=D(60),
        confidence=3,
        need_help=True,
        now=at(0, 1),
    )
    integrations.channel_preferences_set(org=acme, membership=bob, digests_teams=True)
    run(acme, at(2, 2))
    run(acme, at(3, 2))
    digests = [p.json for p in teams_posts(fake_chat) if "team's check-ins" in p.json["title"]]
    assert len(digests) == 1
    text = digests[0]["sections"][0]["text"]
    assert "Carol Tsai" in text and kr.title in text and kr2.title in text
    assert digests[0]["potentialAction"][0]["targets"][0]["uri"].endswith(
        "/acme/check-ins/to-acknowledge/"
    )


def test_a_gone_webhook_is_skipped_not_retried_forever(acme, carol, kr, connected, fake_chat):  # noqa: F811
    integrations.channel_preferences_set(
        org=acme, membership=carol, reminders_email=False, reminders_teams=True
    )
    fake_chat.fail_next(404)
    run(acme, at(0, 3))
    claim = NotificationClaim.objects.for_org(acme).get()
    assert claim.status == ClaimStatus.SKIPPED and "404" in claim.error
    assert reminders.claim_due(acme, at(0, 5)) == []


@pytest.mark.parametrize("retries", range(10))
def test_retry_delay_never_zero_and_capped(retries):
    delays = [retry_delay(retries) for _ in range(200)]
    ceiling = min(600, 30 * 2**retries)
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
