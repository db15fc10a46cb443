"""Scoring closes by itself at the scoring deadline: the cadence tick closes a cycle in
scoring once its deadline day has ended on the organisation's clock, recorded as closed "at
the scoring deadline", and the quarter's report is built and mailed as when an admin closes.
"""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection, connections

from checkins import report_tasks
from checkins.models import Report, ReportStatus
from checkins.tasks import cadence_tick, cadence_tick_org
from cycles import services as okr
from cycles.models import Cycle, CycleState, CycleTransition
from okrapp import rls
from tests.checkins.report_org import build_quarter

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarter(acme, alice, bob, carol, engineering):
    return build_quarter(acme, alice, bob, carol, engineering)


def _local_today(org):
    return datetime.now(org.zoneinfo).date()


def _set_deadline(org, cycle, deadline) -> Cycle:
    Cycle.objects.for_org(org).filter(pk=cycle.pk).update(scoring_deadline=deadline)
    return Cycle.objects.for_org(org).get(pk=cycle.pk)


def _tick(org, capture) -> None:
    """The beat's per-organisation tick, with what it enqueues after commit run as well."""
    with capture(execute=True):
        cadence_tick_org.delay(org.pk)


def _closes(org, cycle):
    return CycleTransition.objects.for_org(org).filter(cycle=cycle, to_state=CycleState.CLOSED)


def _report_mails():
    return sorted(m.to[0] for m in mail.outbox if "report is ready" in m.subject)


# --- The tick ----------------------------------------------------------------------------------


def test_nothing_happens_on_the_deadline_day_itself(
    acme, quarter, django_capture_on_commit_callbacks
):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme))
    _tick(acme, django_capture_on_commit_callbacks)
    cycle.refresh_from_db()
    assert cycle.state == CycleState.SCORING
    assert not _closes(acme, cycle).exists()
    assert not Report.objects.for_org(acme).exists()


def test_after_the_deadline_day_the_tick_closes_scoring_and_the_report_is_built_once(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    mail.outbox.clear()
    _tick(acme, django_capture_on_commit_callbacks)

    cycle.refresh_from_db()
    assert cycle.state == CycleState.CLOSED
    move = _closes(acme, cycle).get()
    assert (move.from_state, move.by, move.by_deadline) == (CycleState.SCORING, None, True)
    report = Report.objects.for_org(acme).get(cycle=cycle)
    assert (report.status, report.generation, report.generated_by) == (ReportStatus.READY, 1, None)
    with report.figures_file.open("rb") as stream:
        assert b'"state": "closed"' in stream.read()
    # Mailed to the admins and managers, as when an admin closes.
    assert _report_mails() == ["alice@acme.example", "bob@acme.example", "dana@acme.example"]


def test_a_second_tick_changes_nothing(acme, quarter, django_capture_on_commit_callbacks):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    _tick(acme, django_capture_on_commit_callbacks)
    report = Report.objects.for_org(acme).get(cycle=cycle)
    moves = CycleTransition.objects.for_org(acme).count()
    mail.outbox.clear()

    _tick(acme, django_capture_on_commit_callbacks)
    assert CycleTransition.objects.for_org(acme).count() == moves
    again = Report.objects.for_org(acme).get()
    assert (again.pk, again.generation, again.pdf_file.name) == (
        report.pk,
        report.generation,
        report.pdf_file.name,
    )
    assert _report_mails() == []


def test_the_beat_reaches_the_organisation(acme, quarter, django_capture_on_commit_callbacks):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        cadence_tick.delay()
    cycle.refresh_from_db()
    assert cycle.state == CycleState.CLOSED
    assert Report.objects.for_org(acme).get().status == ReportStatus.READY


def test_a_cycle_an_admin_closed_is_left_alone(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=CycleState.CLOSED)
    moves = CycleTransition.objects.for_org(acme).count()
    mail.outbox.clear()

    _tick(acme, django_capture_on_commit_callbacks)
    assert CycleTransition.objects.for_org(acme).count() == moves
    move = _closes(acme, cycle).get()
    assert (move.by, move.by_deadline) == (alice, False)
    report = Report.objects.for_org(acme).get()
    assert (report.generation, report.generated_by) == (1, alice)
    assert _report_mails() == []


def test_a_cycle_without_a_deadline_or_reopened_for_check_ins_stays_open(
    acme, alice, quarter, django_capture_on_commit_callbacks
):
    _tick(acme, django_capture_on_commit_callbacks)
    assert Cycle.objects.for_org(acme).get().state == CycleState.SCORING

    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=CycleState.ACTIVE)
    _tick(acme, django_capture_on_commit_callbacks)
    assert Cycle.objects.for_org(acme).get().state == CycleState.ACTIVE
    assert not Report.objects.for_org(acme).exists()


def test_another_organisations_deadline_is_not_ours(
    acme, quarter, globex, mallory, django_capture_on_commit_callbacks
):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    _tick(globex, django_capture_on_commit_callbacks)
    cycle.refresh_from_db()
    assert cycle.state == CycleState.SCORING


# --- The organisation's clock -------------------------------------------------------------------


def _end_of_deadline_day(cycle, zone: str) -> datetime:
    return datetime.combine(
        cycle.scoring_deadline + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone)
    )


@pytest.mark.parametrize("zone", ["Asia/Taipei", "Europe/Berlin", "America/Los_Angeles"])
def test_scoring_closes_when_the_deadline_day_ends_in_the_organisations_time_zone(
    acme, quarter, zone
):
    acme.time_zone = zone
    acme.save(update_fields=["time_zone"])
    cycle = _set_deadline(acme, quarter.cycle, quarter.cycle.end_date + timedelta(days=3))
    midnight = _end_of_deadline_day(cycle, zone)

    assert (
        okr.cycle_close_at_deadline(org=acme, cycle=cycle, now=midnight - timedelta(minutes=1))
        is None
    )
    assert Cycle.objects.for_org(acme).get().state == CycleState.SCORING
    closed = okr.cycle_close_at_deadline(org=acme, cycle=cycle, now=midnight)
    assert closed is not None and closed.state == CycleState.CLOSED
    assert Cycle.objects.for_org(acme).get().state == CycleState.CLOSED


def test_a_western_organisations_deadline_day_ends_later(acme, quarter):
    """The same instant: past the deadline day in Taipei, still on it in Los Angeles."""
    cycle = _set_deadline(acme, quarter.cycle, quarter.cycle.end_date + timedelta(days=3))
    instant = _end_of_deadline_day(cycle, "Asia/Taipei") + timedelta(hours=8)

    acme.time_zone = "America/Los_Angeles"
    acme.save(update_fields=["time_zone"])
    assert okr.cycle_close_at_deadline(org=acme, cycle=cycle, now=instant) is None
    assert Cycle.objects.for_org(acme).get().state == CycleState.SCORING

    acme.time_zone = "Asia/Taipei"
    acme.save(update_fields=["time_zone"])
    assert okr.cycle_close_at_deadline(org=acme, cycle=cycle, now=instant) is not None
    assert Cycle.objects.for_org(acme).get().state == CycleState.CLOSED


# --- What people see ----------------------------------------------------------------------------


def test_the_cycle_history_says_it_closed_at_the_deadline(
    acme, bob, quarter, login, django_capture_on_commit_callbacks
):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    _tick(acme, django_capture_on_commit_callbacks)
    page = login(bob).get(f"/acme/cycles/{cycle.pk}/").content.decode()
    history = page[page.index('id="history-title"') :]
    assert "Scoring → Closed" in history
    assert "closed at the scoring deadline" in history
    assert "someone no longer here" not in history


def test_a_membership_removed_later_is_still_someone_no_longer_here(
    acme, alice, quarter, login, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        okr.cycle_transition(org=acme, by=alice, cycle=quarter.cycle, to_state="closed")
    CycleTransition.objects.for_org(acme).update(by=None)
    page = login(alice).get(f"/acme/cycles/{quarter.cycle.pk}/").content.decode()
    assert "someone no longer here" in page
    assert "closed at the scoring deadline" not in page


# --- Two ticks at once --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL (the in-memory SQLite test database refuses a second "
    "writer at once instead of queueing it)",
)
def test_two_ticks_at_once_close_once_and_request_one_report(acme, quarter, monkeypatch):
    cycle = _set_deadline(acme, quarter.cycle, _local_today(acme) - timedelta(days=1))
    enqueued = []
    monkeypatch.setattr(
        report_tasks.build_report, "delay_on_commit", lambda *args: enqueued.append(args)
    )
    # The first close waits inside its transaction (state saved, not committed) until the
    # second has started: without the row lock the second would read "scoring" too.
    moving, second_started = threading.Event(), threading.Event()

    def slow_first(sender, **kwargs):
        if not moving.is_set():
            moving.set()
            second_started.wait(10)
            time.sleep(0.5)

    okr.cycle_state_changed.connect(slow_first, dispatch_uid="test.slow_first")
    outcomes = []

    def close(wait_for=None):
        try:
            if wait_for is not None:
                wait_for.wait(10)
                second_started.set()
            with rls.org_scope(acme):
                outcomes.append(okr.cycle_close_at_deadline(org=acme, cycle=cycle))
        except Exception as exc:  # pragma: no cover - shown by the assert below
            outcomes.append(exc)
        finally:
            connections.close_all()

    try:
        threads = [threading.Thread(target=close), threading.Thread(target=close, args=(moving,))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        okr.cycle_state_changed.disconnect(dispatch_uid="test.slow_first")
    assert sorted(type(o).__name__ for o in outcomes) == ["Cycle", "NoneType"]
    assert _closes(acme, cycle).count() == 1
    assert Report.objects.for_org(acme).count() == 1
    assert len(enqueued) == 1
