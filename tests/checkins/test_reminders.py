"""Reminders at each person's local time, exactly once, in bulk; escalation digests."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal as D

import pytest
from django.core import mail

from checkins import notifications, reminders, services
from checkins.models import AwayPeriod, ClaimStatus, NotificationClaim
from checkins.tasks import cadence_tick, send_notifications
from cycles import services as okr
from okrapp import rls
from tests.factories import MembershipFactory, TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

# Acme (Asia/Taipei) checks in on Mondays at 10:00; week 2026-W48 starts Monday 23 Nov.
MONDAY = date(2026, 11, 23)


def at(day_offset, hour, minute=0):
    """A UTC instant ``day_offset`` days after Monday 23 Nov 2026."""
    return datetime(2026, 11, 23, hour, minute, tzinfo=UTC) + timedelta(days=day_offset)


def run(org, now):
    ids = reminders.claim_due(org, now)
    if ids:
        notifications.send_claims(org, ids)
    return ids


def reminder_recipients():
    return sorted(m.to[0] for m in mail.outbox if "check in on" in m.subject)


def test_a_reminder_goes_at_the_persons_local_hour_and_only_once(acme, carol, kr):
    # 10:00 in Taipei is 02:00 UTC.
    assert run(acme, at(0, 1, 59)) == []
    run(acme, at(0, 2, 0))
    assert reminder_recipients() == ["carol@acme.example"]
    message = mail.outbox[0]
    assert "Acme Robotics" in message.subject
    assert kr.title in message.body
    assert "http://127.0.0.1:8000/acme/my-week/" in message.body
    assert "/acme/notifications/" in message.body
    html = message.alternatives[0][0]
    assert kr.title in html and "/acme/notifications/" in html
    # Later ticks in the same week send nothing more.
    run(acme, at(0, 2, 15))
    run(acme, at(3, 9))
    assert reminder_recipients() == ["carol@acme.example"]


def owner(acme, carol, kr, name, time_zone):
    """A member in ``time_zone`` owning a key result of the cycle (one to check in on)."""
    person = MembershipFactory(
        organization=acme, time_zone=time_zone, user=UserFactory(email=f"{name}@acme.example")
    )
    okr.key_result_create(
        org=acme,
        by=carol,
        objective=kr.objective,
        owner=person,
        title="X from 0 to 9",
        start_value=D(0),
        target_value=D(9),
    )
    return person


def ticks(org, start, end, every=timedelta(minutes=15)) -> list[tuple[datetime, str, str]]:
    """Run the tick (claim, then send) from ``start`` until ``end``, every 15 minutes as the
    beat does (or hourly, where every moment is a whole UTC hour and the run is long);
    (tick, recipient, subject) of every mail it sent."""
    sent = []
    now = start
    while now < end:
        before = len(mail.outbox)
        run(org, now)
        sent += [(now, m.to[0], m.subject) for m in mail.outbox[before:]]
        now += every
    return sent


def by_recipient(sent, subject) -> dict[str, list[datetime]]:
    """The ticks at which each person got a mail whose subject says ``subject``."""
    ticks = defaultdict(list)
    for now, to, title in sent:
        if subject in title:
            ticks[to].append(now)
    return dict(ticks)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_time_zones_and_daylight_saving(acme, carol, kr):
    """Heidi in Berlin and Ken in Los Angeles get theirs at 10:00 their time, whatever their
    clocks do. Europe leaves summer time on 25 October 2026, America on 1 November: over
    three Mondays 10:00 is three different pairs of UTC hours."""
    owner(acme, carol, kr, "heidi", "Europe/Berlin")
    owner(acme, carol, kr, "ken", "America/Los_Angeles")
    # Each Monday: (Berlin's 10:00 in UTC, Los Angeles' 10:00 in UTC).
    weeks = {date(2026, 10, 19): (8, 17), date(2026, 10, 26): (9, 17), date(2026, 11, 2): (9, 18)}
    for monday, (berlin, los_angeles) in weeks.items():
        # From the start of Acme's week (Monday 00:00 in Taipei) to Monday evening in LA.
        start = datetime.combine(monday, time(0), acme.zoneinfo).astimezone(UTC)
        sent = ticks(acme, start, start + timedelta(hours=28), every=timedelta(hours=1))
        y, m, d = monday.year, monday.month, monday.day
        assert by_recipient(sent, "check in on") == {
            "carol@acme.example": [utc(y, m, d, 2)],  # Taipei has no summer time
            "heidi@acme.example": [utc(y, m, d, berlin)],
            "ken@acme.example": [utc(y, m, d, los_angeles)],
        }, monday


def test_a_moment_past_the_end_of_the_week_comes_at_its_start(acme, carol, kr):
    """Acme (Taipei) checks in on Sundays at 20:00. Ken's Sunday 20:00 in Los Angeles is
    Monday noon in Taipei, already Acme's next week: his moment in a week is the Sunday
    20:00 of his that falls inside it, the one at its start. One reminder a week each."""
    acme.checkin_weekday, acme.checkin_hour = 6, 20
    acme.save()
    owner(acme, carol, kr, "ken", "America/Los_Angeles")
    start = utc(2026, 11, 22, 16)  # Monday 23 November 00:00 in Taipei
    sent = ticks(acme, start, start + timedelta(weeks=3), every=timedelta(hours=1))
    assert by_recipient(sent, "check in on") == {
        # Sunday 20:00 in Los Angeles (UTC-8): Monday 04:00 UTC, Monday noon in Taipei.
        "ken@acme.example": [utc(2026, 11, 23, 4), utc(2026, 11, 30, 4), utc(2026, 12, 7, 4)],
        # Sunday 20:00 in Taipei: 12:00 UTC.
        "carol@acme.example": [utc(2026, 11, 29, 12), utc(2026, 12, 6, 12), utc(2026, 12, 13, 12)],
    }
    weeks = NotificationClaim.objects.for_org(acme).filter(
        membership__user__email="ken@acme.example"
    )
    assert sorted(weeks.values_list("week", flat=True)) == [
        date(2026, 11, 23),
        date(2026, 11, 30),
        date(2026, 12, 7),
    ]


@pytest.mark.parametrize(
    ("zone", "sunday", "hour", "expected"),
    [
        # 02:00 does not exist: the clocks jump from 02:00 to 03:00 (01:00 UTC).
        ("Europe/Berlin", date(2026, 3, 29), 2, utc(2026, 3, 29, 1)),
        # 02:00 comes twice, in summer time (00:00 UTC) and in winter time (01:00 UTC).
        ("Europe/Berlin", date(2026, 10, 25), 2, utc(2026, 10, 25, 0)),
        # 02:00 does not exist: 02:00 EST would be 07:00 UTC, when it is 03:00 EDT.
        ("America/New_York", date(2026, 3, 8), 2, utc(2026, 3, 8, 7)),
        # 01:00 comes twice, in EDT (05:00 UTC) and in EST (06:00 UTC).
        ("America/New_York", date(2026, 11, 1), 1, utc(2026, 11, 1, 5)),
    ],
    ids=["berlin-skipped", "berlin-repeated", "new-york-skipped", "new-york-repeated"],
)
def test_a_check_in_hour_the_clock_skips_or_repeats_reminds_once(
    acme, carol, kr, zone, sunday, hour, expected
):
    """A skipped hour reminds when the clock jumps over it; a repeated one the first time."""
    acme.time_zone, acme.checkin_weekday, acme.checkin_hour = zone, 6, hour
    acme.save()
    carol.time_zone = zone
    carol.save()
    day_start = datetime.combine(sunday, time(0), acme.zoneinfo)
    week_end = datetime.combine(sunday + timedelta(days=1), time(0), acme.zoneinfo)
    sent = ticks(acme, day_start.astimezone(UTC), week_end.astimezone(UTC))
    assert by_recipient(sent, "check in on") == {"carol@acme.example": [expected]}


def test_summer_time_moves_the_utc_hour(acme, alice, carol):
    """In Berlin 10:00 is 08:00 UTC in summer (CEST) and 09:00 in winter (CET)."""
    from checkins.reminders import checkin_moment

    summer = checkin_moment(acme, date(2026, 7, 6), "Europe/Berlin")
    winter = checkin_moment(acme, date(2026, 11, 23), "Europe/Berlin")
    assert summer.astimezone(UTC).hour == 8
    assert winter.astimezone(UTC).hour == 9


def test_no_reminder_after_checking_in(acme, carol, kr):
    services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(25), confidence=5, now=at(0, 1)
    )
    run(acme, at(0, 3))
    assert reminder_recipients() == []  # carol checked in on all her KRs


def test_opt_out_and_time_away(acme, alice, carol, kr, objective):
    carol.notify_reminders = False
    carol.save()
    run(acme, at(0, 3))
    assert reminder_recipients() == []
    carol.notify_reminders = True
    carol.save()
    AwayPeriod.objects.create(
        organization=acme, membership=carol, starts_on=MONDAY, ends_on=MONDAY + timedelta(days=1)
    )
    run(acme, at(0, 3))
    assert reminder_recipients() == []
    run(acme, at(2, 3))  # back on Wednesday: the week's reminder still comes
    assert reminder_recipients() == ["carol@acme.example"]


def test_pilot_mode_reminds_pilot_teams_only(acme, alice, bob, carol, erin, engineering):
    cycle = okr.cycle_create(
        org=acme,
        by=alice,
        name="Pilot",
        start_date=date(2026, 10, 1),
        end_date=date(2026, 12, 31),
        is_pilot=True,
        pilot_teams=[engineering],
    )
    for state in ("planning", "active"):
        okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    for person in (carol, erin):  # carol is on engineering, erin is not
        objective = okr.objective_create(
            org=acme, by=person, cycle=cycle, level=3, owner=person, title=f"O {person.pk}"
        )
        okr.key_result_create(
            org=acme,
            by=person,
            objective=objective,
            owner=person,
            title="Z from 0 to 3",
            start_value=D(0),
            target_value=D(3),
        )
    run(acme, at(0, 3))
    assert reminder_recipients() == ["carol@acme.example"]


def test_two_ticks_at_once_claim_each_person_once(acme, carol, kr):
    first = reminders.claim_due(acme, at(0, 3))
    second = reminders.claim_due(acme, at(0, 3))
    assert len(first) == 1 and second == []
    notifications.send_claims(acme, first)
    notifications.send_claims(acme, first)  # a retried or duplicated task
    assert len(mail.outbox) == 1
    assert NotificationClaim.objects.for_org(acme).get().status == ClaimStatus.SENT


def test_a_refused_send_is_retried_and_sent_once(acme, carol, kr, monkeypatch):
    ids = reminders.claim_due(acme, at(0, 3))
    calls = {"n": 0}
    real = notifications.send_templated_mail

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("mail server down")
        return real(**kwargs)

    monkeypatch.setattr(notifications, "send_templated_mail", flaky)
    with pytest.raises(notifications.SendFailed):
        notifications.send_claims(acme, ids)
    claim = NotificationClaim.objects.for_org(acme).get()
    assert claim.status == ClaimStatus.CLAIMED and "mail server down" in claim.error
    notifications.send_claims(acme, ids)
    assert len(mail.outbox) == 1


def refuse_every_mail(monkeypatch):
    def refuse(**kwargs):
        raise OSError("550 mailbox unavailable")

    monkeypatch.setattr(notifications, "send_templated_mail", refuse)


def test_a_mail_the_server_keeps_refusing_is_given_up_after_max_attempts(
    acme, carol, kr, monkeypatch
):
    """Each tick's lost-claim sweep dispatches a refused claim again: only so often."""
    refuse_every_mail(monkeypatch)
    dispatched = 0
    for n in range(3 * reminders.MAX_ATTEMPTS):
        ids = reminders.claim_due(acme, at(0, 3) + n * timedelta(minutes=15))
        if ids:
            dispatched += 1
            try:
                notifications.send_claims(acme, ids)
            except notifications.SendFailed:
                assert dispatched < reminders.MAX_ATTEMPTS  # the last one asks no retry
    assert dispatched == reminders.MAX_ATTEMPTS
    claim = NotificationClaim.objects.for_org(acme).get()
    assert (claim.status, claim.attempts) == (ClaimStatus.FAILED, reminders.MAX_ATTEMPTS)
    assert "550 mailbox unavailable" in claim.error
    assert list(reminders.failed_claims(acme, at(0, 9))) == [claim]
    assert mail.outbox == []


def test_a_lost_claim_is_given_up_when_its_week_ends(acme, carol, kr):
    (lost,) = reminders.claim_due(acme, at(0, 3))  # the task carrying it never ran
    # Still the week (Sunday 23:45 in Taipei): sent again (with bob's digest, due by now).
    assert lost in reminders.claim_due(acme, at(6, 15, 45))
    # Acme's next week has begun (Monday 00:00 in Taipei): last week's reminder is failed,
    # never sent; this week's comes at its own time.
    assert reminders.claim_due(acme, at(6, 16)) == []
    claim = NotificationClaim.objects.for_org(acme).get(pk=lost)
    assert claim.status == ClaimStatus.FAILED
    notifications.send_claims(acme, [lost])
    assert mail.outbox == []
    run(acme, at(7, 2))
    assert reminder_recipients() == ["carol@acme.example"]
    assert NotificationClaim.objects.for_org(acme).get(week=MONDAY + timedelta(weeks=1)).status == (
        ClaimStatus.SENT
    )


def test_a_send_task_that_runs_after_the_week_ended_sends_nothing(acme, bob, carol, kr):
    """A retry or a late delivery of the send task (the week of 23 November 2026 is over)."""
    ids = reminders.claim_due(acme, at(3, 3))  # carol's reminder and bob's digest
    assert len(ids) == 2
    send_notifications.apply(args=[acme.pk, ids]).get()
    assert mail.outbox == []
    claims = NotificationClaim.objects.for_org(acme)
    assert {c.status for c in claims} == {ClaimStatus.FAILED}
    assert list(reminders.failed_claims(acme, at(3, 4))) == list(
        claims.order_by("-claimed_at", "-id")
    )


def test_a_scoring_request_is_not_bound_to_its_week(acme, alice, carol, kr, cycle):
    """Asking for scores is not about one week's check-ins: a late send still asks."""
    okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    ids = notifications.request_scores(acme, cycle, MONDAY)
    send_notifications.apply(args=[acme.pk, ids]).get()
    assert [m.to for m in mail.outbox] == [["carol@acme.example"]]


@pytest.fixture
def due_now(acme):
    """Reminders due from the start of each week (Monday 00:00): a claim made at the real
    time is of the current week."""
    acme.checkin_weekday, acme.checkin_hour = 0, 0
    acme.save()


def test_admins_see_failed_and_stuck_deliveries_and_send_stuck_ones_again(
    acme, alice, carol, kr, due_now, login, monkeypatch, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    (stuck,) = [
        pk
        for pk in reminders.claim_due(acme)
        if NotificationClaim.objects.for_org(acme).get(pk=pk).kind == "checkin_reminder"
    ]
    NotificationClaim.objects.for_org(acme).filter(pk=stuck).update(
        status=ClaimStatus.SENDING, sending_at=timezone.now() - timedelta(hours=1), attempts=1
    )
    failed = NotificationClaim.objects.create(
        organization=acme,
        membership=alice,
        week=services.current_week(acme),
        kind="manager_digest",
        status=ClaimStatus.FAILED,
        attempts=reminders.MAX_ATTEMPTS,
        error="550 mailbox unavailable",
    )
    page = login(alice).get("/acme/notifications/").content.decode()
    assert f"/acme/notifications/{stuck}/resend/" in page
    assert "Not delivered" in page and "550 mailbox unavailable" in page
    assert f"/acme/notifications/{failed.pk}/resend/" not in page
    cadence = login(alice).get(f"/acme/cycles/{kr.objective.cycle_id}/cadence/")
    assert "1 notification was not delivered" in cadence.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = login(alice).post(f"/acme/notifications/{stuck}/resend/")
    assert response.status_code == 302
    assert reminder_recipients() == ["carol@acme.example"]
    assert NotificationClaim.objects.for_org(acme).get(pk=stuck).status == ClaimStatus.SENT


def test_a_stuck_reminder_of_an_ended_week_is_given_up_not_sent_again(
    acme, alice, carol, kr, login, django_capture_on_commit_callbacks
):
    (claim_id, *_rest) = reminders.claim_due(acme, at(0, 3))
    NotificationClaim.objects.for_org(acme).filter(pk=claim_id).update(
        status=ClaimStatus.SENDING, sending_at=at(0, 3)
    )
    claim = NotificationClaim.objects.for_org(acme).get(pk=claim_id)
    assert claim.week < services.current_week(acme)  # at(0, 3) lies in a week that has ended
    with django_capture_on_commit_callbacks(execute=True):
        response = login(alice).post(f"/acme/notifications/{claim_id}/resend/", follow=True)
    assert "Not sent again: its week is over" in response.content.decode()
    assert NotificationClaim.objects.for_org(acme).get(pk=claim_id).status == ClaimStatus.FAILED
    assert mail.outbox == []


def test_only_admins_send_a_notification_again(acme, alice, bob, carol, kr, login, mallory):
    (claim_id, *_rest) = reminders.claim_due(acme, at(0, 3))
    NotificationClaim.objects.for_org(acme).filter(pk=claim_id).update(
        status=ClaimStatus.SENDING, sending_at=at(0, 3)
    )
    url = f"/acme/notifications/{claim_id}/resend/"
    assert login(bob).post(url).status_code == 403
    assert login(carol).post(url).status_code == 403
    assert login(mallory).post(url).status_code == 404
    assert login(alice).get(url).status_code == 405
    assert NotificationClaim.objects.for_org(acme).get(pk=claim_id).status == ClaimStatus.SENDING
    assert mail.outbox == []


def test_a_claim_left_sending_is_reported_not_resent(acme, alice, carol, kr):
    ids = reminders.claim_due(acme, at(0, 3))
    # A worker died after taking the claim, before marking it sent.
    NotificationClaim.objects.for_org(acme).filter(pk__in=ids).update(
        status=ClaimStatus.SENDING, sending_at=at(0, 3)
    )
    notifications.send_claims(acme, ids)
    assert mail.outbox == []
    assert list(reminders.stuck_claims(acme, at(0, 4))) == list(
        NotificationClaim.objects.for_org(acme).filter(pk__in=ids)
    )
    assert reminders.claim_due(acme, at(0, 4)) == []  # not claimed or sent again


def test_lost_claims_are_dispatched_again(acme, carol, kr):
    ids = reminders.claim_due(acme, at(0, 3))  # the task carrying them is lost
    assert reminders.claim_due(acme, at(0, 3, 5)) == []
    assert reminders.claim_due(acme, at(0, 3, 20)) == ids


def test_manager_digest_after_the_grace_period(acme, bob, carol, kr, kr2):
    services.checkin_record(
        org=acme,
        by=carol,
        key_result=kr2,
        value=D(60),
        confidence=3,
        need_help=True,
        note="Stuck on the sensor",
        now=at(0, 1),
    )
    run(acme, at(2, 1, 59))  # 2 days' grace ends Wednesday 10:00 Taipei = 02:00 UTC
    assert not [m for m in mail.outbox if m.to == ["bob@acme.example"]]
    run(acme, at(2, 2))
    digest = [m for m in mail.outbox if m.to == ["bob@acme.example"]]
    assert len(digest) == 1
    assert "Carol Tsai" in digest[0].body and "Stuck on the sensor" in digest[0].body
    assert "/acme/check-ins/to-acknowledge/" in digest[0].body
    run(acme, at(4, 2))
    assert len([m for m in mail.outbox if m.to == ["bob@acme.example"]]) == 1


def test_okr_master_gets_a_cadence_summary_per_team(acme, bob, carol, erin, kr, kr2, engineering):
    services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(25), confidence=5, now=at(0, 1)
    )
    run(acme, at(2, 3))
    summary = [m for m in mail.outbox if m.to == ["erin@acme.example"]]
    assert len(summary) == 1
    assert "Engineering: 50 %" in summary[0].body  # carol: 1 of 2 KRs checked in


@pytest.mark.parametrize(
    ("weekday", "grace", "bob_zone"),
    [(5, 2, "America/Los_Angeles"), (6, 6, "Asia/Taipei")],
    ids=["saturday+2", "sunday+6"],
)
def test_escalation_past_the_end_of_the_week_comes_in_its_last_hour(
    acme, bob, carol, erin, kr, weekday, grace, bob_zone
):
    """Saturday + 2 days is Monday, Sunday + 6 days Saturday: both in the next week, whose
    own digest is a week away. The week's digest and cadence summary come in its last hour
    instead: Sunday 23:00 on Acme's clock (Taipei), 15:00 UTC, wherever the manager is."""
    acme.checkin_weekday, acme.escalation_grace_days = weekday, grace
    acme.save()
    bob.time_zone = bob_zone
    bob.save()
    friday = utc(2026, 11, 26, 16)  # Friday 27 November 00:00 in Taipei
    sent = ticks(acme, friday, friday + timedelta(days=4))  # into Tuesday of the next week
    last_hour = utc(2026, 11, 29, 15)
    assert by_recipient(sent, "your team's check-ins") == {"bob@acme.example": [last_hour]}
    assert by_recipient(sent, "cadence by team") == {"erin@acme.example": [last_hour]}
    (digest,) = [m for m in mail.outbox if m.to == ["bob@acme.example"]]
    assert "Carol Tsai: 1 key result without a check-in" in digest.body
    escalations = NotificationClaim.objects.for_org(acme).exclude(kind="checkin_reminder")
    assert {c.week for c in escalations} == {MONDAY}


def test_the_settings_page_says_when_the_digest_comes_at_the_latest(client, login, acme, alice):
    response = login(alice).get("/acme/settings/")
    assert response.status_code == 200
    assert "at the latest on Sunday at 23:00" in response.content.decode()


def _pilot_with_people(acme, alice, bob, carol, erin, engineering):
    """A pilot cycle of Engineering; bob manages carol (Engineering), erin (not in the
    pilot) and dave (Engineering), each owning one key result."""
    cycle = okr.cycle_create(
        org=acme,
        by=alice,
        name="Pilot",
        start_date=date(2026, 10, 1),
        end_date=date(2026, 12, 31),
        is_pilot=True,
        pilot_teams=[engineering],
    )
    for state in ("planning", "active"):
        okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    dave = MembershipFactory(
        organization=acme,
        manager=bob,
        user=UserFactory(email="dave@acme.example", full_name="Dave Wu"),
    )
    TeamMembershipFactory(organization=acme, team=engineering, membership=dave)
    krs = {}
    for person in (carol, erin, dave):
        objective = okr.objective_create(
            org=acme, by=person, cycle=cycle, level=3, owner=person, title=f"O {person.pk}"
        )
        krs[person.pk] = okr.key_result_create(
            org=acme,
            by=person,
            objective=objective,
            owner=person,
            title="Z from 0 to 3",
            start_value=D(0),
            target_value=D(3),
        )
    return dave, krs


def test_the_digest_lists_people_away_as_away_and_leaves_out_those_outside_the_pilot(
    acme, alice, bob, carol, erin, engineering
):
    dave, _krs = _pilot_with_people(acme, alice, bob, carol, erin, engineering)
    AwayPeriod.objects.create(
        organization=acme,
        membership=dave,
        starts_on=MONDAY + timedelta(days=1),
        ends_on=MONDAY + timedelta(days=4),
    )
    run(acme, at(2, 2))  # Wednesday 10:00 in Taipei: the grace period is over
    (digest,) = [m for m in mail.outbox if m.to == ["bob@acme.example"]]
    assert "Carol Tsai: 1 key result without a check-in" in digest.body
    assert "Erin Huang" not in digest.body  # not on a pilot team: no check-ins expected
    assert "Dave Wu: away until Nov. 27, 2026" in digest.body
    assert "Dave Wu: 1 key result" not in digest.body
    html = digest.alternatives[0][0]
    assert "Erin Huang" not in html and "away until Nov. 27, 2026" in html


def test_no_digest_when_everyone_missing_is_away(acme, alice, bob, carol, erin, engineering):
    dave, krs = _pilot_with_people(acme, alice, bob, carol, erin, engineering)
    services.checkin_record(
        org=acme, by=carol, key_result=krs[carol.pk], value=D(1), confidence=5, now=at(0, 1)
    )
    AwayPeriod.objects.create(
        organization=acme, membership=dave, starts_on=MONDAY, ends_on=MONDAY + timedelta(days=6)
    )
    run(acme, at(2, 2))
    assert not [m for m in mail.outbox if m.to == ["bob@acme.example"]]


def test_mails_use_the_recipients_language(acme, carol, kr):
    carol.language = "zh-hant"
    carol.save()
    owner(acme, carol, kr, "ken", "Asia/Taipei")
    run(acme, at(0, 3))
    by_person = {m.to[0]: m for m in mail.outbox}
    chinese, english = by_person["carol@acme.example"], by_person["ken@acme.example"]
    assert chinese.subject == "Acme Robotics：本週有 1 個關鍵結果需要回報進度"  # noqa: RUF001
    assert "該回報進度了。以下關鍵結果本週尚未回報進度：" in chinese.body  # noqa: RUF001
    assert '<html lang="zh-hant">' in chinese.alternatives[0][0]
    assert "key result" not in chinese.body
    assert english.subject == "Acme Robotics: 1 key result to check in on this week"
    assert "It's check-in time. These key results have no check-in yet this week:" in english.body
    assert '<html lang="en">' in english.alternatives[0][0]


def test_scoring_requests_once_per_owner(
    acme, alice, carol, kr, cycle, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    asks = [m for m in mail.outbox if "score your key results" in m.subject.lower()]
    assert [m.to[0] for m in asks] == ["carol@acme.example"]
    assert f"/acme/cycles/{cycle.pk}/scoring/" in asks[0].body
    # The weekly scoring reminder skips the week the request went out (the real week of
    # today: cycle_transition sends it now), even after Carol's moment in that week...
    request = NotificationClaim.objects.for_org(acme).get(kind="scoring_request")
    sunday_noon = datetime.combine(request.week + timedelta(days=6), time(12), acme.zoneinfo)
    assert reminders.claim_due(acme, sunday_noon) == []
    # ...and reminds her the week after.
    assert len(reminders.claim_due(acme, sunday_noon + timedelta(days=1))) == 1


def test_the_beat_tick_fans_out_per_organisation(acme, globex, carol, kr):
    assert cadence_tick.apply().get() == 1  # only Acme has a running cycle


def test_send_task_is_idempotent(acme, carol, kr, due_now):
    ids = reminders.claim_due(acme)  # this week's: carol's reminder (bob's digest from Wednesday)
    send_notifications.apply(args=[acme.pk, ids]).get()
    send_notifications.apply(args=[acme.pk, ids]).get()
    assert reminder_recipients() == ["carol@acme.example"]
    assert len(mail.outbox) == len(ids)


def test_bulk_queries_do_not_grow_with_people(acme, alice, cycle, django_assert_max_num_queries):
    team = TeamFactory(organization=acme, name="Many")
    objective = okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=2, owner=alice, team=team, title="Team"
    )
    for _ in range(40):
        person = MembershipFactory(organization=acme)
        TeamMembershipFactory(organization=acme, team=team, membership=person)
        okr.key_result_create(
            org=acme,
            by=alice,
            objective=objective,
            owner=person,
            title="W from 0 to 2",
            start_value=D(0),
            target_value=D(2),
        )
    with django_assert_max_num_queries(20):
        ids = reminders.claim_due(acme, at(0, 3))
    assert len(ids) == 40


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').startswith('postgres') is False")
def test_two_ticks_in_parallel_threads_split_the_work(acme, alice, cycle):
    """Real concurrency on PostgreSQL: both ticks find everyone due, each person is
    claimed by exactly one of them."""
    import threading

    from django.db import connection

    objective = okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=3, owner=alice, title="Mine"
    )
    people = [MembershipFactory(organization=acme) for _ in range(30)]
    for person in people:
        okr.key_result_create(
            org=acme,
            by=alice,
            objective=objective,
            owner=person,
            title="V from 0 to 1",
            start_value=D(0),
            target_value=D(1),
        )
    results, barrier = [], threading.Barrier(2)

    def tick():
        barrier.wait()
        try:
            # The organisation's scope, as its cadence_tick_org task runs in.
            with rls.org_scope(acme):
                results.append(reminders.claim_due(acme, at(0, 3)))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = results[0] + results[1]
    assert len(claimed) == len(set(claimed)) == 30
    assert NotificationClaim.objects.for_org(acme).count() == 30


# --- A worker killed mid-send: the delivery ledger ---------------------------------------------


@pytest.fixture
def ledger(settings, tmp_path):
    """Mail into files through the ledger backend; returns a function listing the mails."""
    from email import message_from_bytes

    folder = tmp_path / "mail"
    settings.EMAIL_BACKEND = "okrapp.mail_backends.LedgerFileBackend"
    settings.EMAIL_FILE_PATH = str(folder)

    def mails():
        return [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]

    return mails


def mid(message) -> str:
    """A mail's Message-ID as written (a long header is folded onto a second line)."""
    return "".join(message["Message-ID"].split())


def _die_mid_send(org, ids, *, at_time):
    """What a worker killed after taking the claims leaves behind."""
    NotificationClaim.objects.for_org(org).filter(pk__in=ids).update(
        status=ClaimStatus.SENDING, sending_at=at_time, attempts=1
    )


def test_the_ledger_backend_delivers_a_message_id_once(ledger, tmp_path):
    from okrapp import mail as okr_mail
    from okrapp.mail_backends import ledger_name

    first = okr_mail.stable_message_id("notification.1.abc")
    other = okr_mail.stable_message_id("notification.2.abc")
    assert first == "<notification.1.abc@okrapp.localhost>"
    for _ in range(2):  # the same mail handed over twice
        mail.EmailMessage(
            "Hi", "body", to=["carol@acme.example"], headers={"Message-ID": first}
        ).send()
    assert [mid(m) for m in ledger()] == [first]
    assert okr_mail.delivered([first, other]) == {first}
    assert [p.name for p in (tmp_path / "mail").iterdir()] == [  # nothing half-written left
        ledger_name(first)
    ]


def test_without_a_ledger_the_backend_cannot_tell(settings):
    from okrapp import mail as okr_mail

    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"
    assert okr_mail.delivered(["<x@okrapp.localhost>"]) is None


def test_reminder_mails_carry_their_claims_message_id(ledger, acme, carol, kr):
    ids = run(acme, at(0, 3))
    claim = NotificationClaim.objects.for_org(acme).get(pk=ids[0])
    assert [mid(m) for m in ledger()] == [claim.message_id]
    assert claim.message_id == f"<notification.{claim.pk}.{claim.batch}@okrapp.localhost>"


def test_a_stuck_claim_whose_mail_went_is_marked_sent_not_resent(ledger, acme, carol, kr):
    ids = run(acme, at(0, 3))
    # The worker delivered, then died before marking the claim sent.
    _die_mid_send(acme, ids, at_time=at(0, 3))
    assert reminders.recover_stuck(acme, at(0, 3, 5)) == reminders.Recovery()  # within lease
    result = reminders.recover_stuck(acme, at(0, 3, 11))
    assert (result.sent, result.requeued, result.unknown) == (1, 0, 0)
    claim = NotificationClaim.objects.for_org(acme).get()
    assert claim.status == ClaimStatus.SENT and claim.sent_at == at(0, 3, 11)
    assert reminders.claim_due(acme, at(0, 3, 30)) == []
    assert len(ledger()) == 1
    assert list(reminders.stuck_claims(acme, at(0, 4))) == []


def test_a_stuck_claim_whose_mail_never_went_is_sent_once(ledger, acme, carol, kr):
    ids = reminders.claim_due(acme, at(0, 3))
    _die_mid_send(acme, ids, at_time=at(0, 3, 1))  # died before handing the mail over
    result = reminders.recover_stuck(acme, at(0, 3, 12))
    assert (result.sent, result.requeued, result.unknown) == (0, 1, 0)
    claim = NotificationClaim.objects.for_org(acme).get()
    assert claim.status == ClaimStatus.CLAIMED and "before the mail was delivered" in claim.error
    # The lost-claim sweep of the same tick dispatches it again.
    assert reminders.claim_due(acme, at(0, 3, 12)) == ids
    notifications.send_claims(acme, ids)
    claim.refresh_from_db()
    assert (claim.status, claim.attempts, claim.error) == (ClaimStatus.SENT, 2, "")
    assert [m["To"] for m in ledger()] == ["carol@acme.example"]


def test_a_slow_worker_finishing_after_the_resend_adds_no_second_mail(ledger, acme, carol, kr):
    """Recovery decided "not delivered" while the first worker was only slow: both hand the
    mail over, under the same Message-ID, and the ledger keeps one."""
    ids = reminders.claim_due(acme, at(0, 3))
    claim = NotificationClaim.objects.for_org(acme).get()
    _die_mid_send(acme, ids, at_time=at(0, 3, 1))
    reminders.recover_stuck(acme, at(0, 3, 12))
    notifications.send_claims(acme, ids)  # the re-send
    mail.EmailMessage(  # the slow first worker's copy arrives at last
        "late", "late", to=["carol@acme.example"], headers={"Message-ID": claim.message_id}
    ).send()
    assert len(ledger()) == 1


def test_without_a_ledger_a_stuck_claim_stays_reported(acme, alice, carol, kr):
    ids = reminders.claim_due(acme, at(0, 3))
    _die_mid_send(acme, ids, at_time=at(0, 3))
    result = reminders.recover_stuck(acme, at(0, 4))
    assert (result.sent, result.requeued, result.unknown) == (0, 0, 1)
    assert NotificationClaim.objects.for_org(acme).get().status == ClaimStatus.SENDING
    assert [c.pk for c in reminders.stuck_claims(acme, at(0, 4))] == ids
    assert reminders.claim_due(acme, at(0, 4)) == [] and mail.outbox == []


def test_a_claim_that_keeps_killing_workers_is_left_to_people(ledger, acme, carol, kr):
    ids = reminders.claim_due(acme, at(0, 3))
    _die_mid_send(acme, ids, at_time=at(0, 3))
    NotificationClaim.objects.for_org(acme).filter(pk__in=ids).update(
        attempts=reminders.MAX_ATTEMPTS
    )
    assert reminders.recover_stuck(acme, at(0, 4)) == reminders.Recovery()
    assert [c.pk for c in reminders.stuck_claims(acme, at(0, 4))] == ids


def test_the_tick_settles_stuck_claims_and_sends_the_undelivered(ledger, acme, carol, kr, due_now):
    from django.utils import timezone

    from checkins.tasks import cadence_tick_org

    # Carol's reminder is due by now (and bob's digest, past the grace period): a worker
    # took them long ago and died before handing any over.
    ids = reminders.claim_due(acme)
    assert ids
    long_ago = timezone.now() - reminders.lease() - timedelta(minutes=1)
    NotificationClaim.objects.for_org(acme).filter(pk__in=ids).update(claimed_at=long_ago)
    _die_mid_send(acme, ids, at_time=long_ago)
    cadence_tick_org.apply(args=[acme.pk]).get()
    claims = NotificationClaim.objects.for_org(acme)
    assert {c.status for c in claims} == {ClaimStatus.SENT}
    assert sorted(mid(m) for m in ledger()) == sorted(c.message_id for c in claims)
    assert "carol@acme.example" in [m["To"] for m in ledger()]
    cadence_tick_org.apply(args=[acme.pk]).get()  # the next tick sends nothing more
    assert len(ledger()) == len(ids)
