"""Reminders at each person's local time, exactly once, in bulk; escalation digests."""

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


def test_time_zones_and_daylight_saving(acme, carol, kr):
    """Heidi in Berlin and Ken in Los Angeles get theirs at 10:00 their time."""
    berlin = MembershipFactory(
        organization=acme, time_zone="Europe/Berlin", user=UserFactory(email="heidi@acme.example")
    )
    la = MembershipFactory(
        organization=acme,
        time_zone="America/Los_Angeles",
        user=UserFactory(email="ken@acme.example"),
    )
    for person in (berlin, la):
        okr.key_result_create(
            org=acme,
            by=carol,
            objective=kr.objective,
            owner=person,
            title="X from 0 to 9",
            start_value=D(0),
            target_value=D(9),
        )
    # Carol (Taipei 10:00 = 02:00 UTC), Berlin (10:00 CET = 09:00 UTC), LA (10:00 PST = 18:00)
    run(acme, at(0, 8, 59))
    assert reminder_recipients() == ["carol@acme.example"]
    run(acme, at(0, 9, 0))
    assert reminder_recipients() == ["carol@acme.example", "heidi@acme.example"]
    run(acme, at(0, 17, 59))
    assert len(reminder_recipients()) == 2
    run(acme, at(0, 18, 0))
    assert len(reminder_recipients()) == 3


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


def test_mails_use_the_recipients_language(acme, carol, kr):
    carol.language = "zh-hant"
    carol.save()
    run(acme, at(0, 3))
    assert mail.outbox and "Acme Robotics" in mail.outbox[0].subject


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


def test_send_task_is_idempotent(acme, carol, kr):
    ids = reminders.claim_due(acme, at(0, 3))
    send_notifications.apply(args=[acme.pk, ids]).get()
    send_notifications.apply(args=[acme.pk, ids]).get()
    assert len(mail.outbox) == 1


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


def test_the_tick_settles_stuck_claims_and_sends_the_undelivered(ledger, acme, carol, kr):
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
