"""Check-in rules: one per KR per ISO week in the organisation's time zone, revisions kept,
the KR and its objective updated in the same transaction, refusals with clear messages."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkins import services
from checkins.models import CheckIn, Kudos, Meeting
from cycles import services as okr
from cycles.models import KeyResult, Objective
from cycles.services import ConflictError

pytestmark = pytest.mark.django_db

THURSDAY = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # noon in Taipei, ISO week 2026-W48


def test_a_check_in_reads_its_key_result_once(acme, carol, kr):
    """The check-in locks and reads the key result; the KR service uses that row instead of
    reading (and locking) it a second time in a savepoint of its own."""
    with CaptureQueriesContext(connection) as queries:
        services.checkin_record(
            org=acme, by=carol, key_result=kr, value=D(20), confidence=7, now=THURSDAY
        )
    kr_reads = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and 'FROM "cycles_keyresult"' in q["sql"]
    ]
    assert len(kr_reads) == 1
    # One savepoint: the check-in's own transaction inside the test's; none inside it.
    assert len([q for q in queries if q["sql"].startswith("SAVEPOINT")]) == 1
    kr.refresh_from_db()
    assert kr.current_value == D(20) and kr.confidence == 7


def test_recording_a_value_alone_locks_the_key_result_itself(acme, carol, kr):
    okr.key_result_record_value(org=acme, by=carol, key_result=kr, value=D(30), confidence=6)
    kr.refresh_from_db()
    assert kr.current_value == D(30) and kr.version == 2
    with pytest.raises(ValidationError):  # the value must still fit the key result
        okr.key_result_record_value(org=acme, by=carol, key_result=kr, value=D(30), confidence=11)


@pytest.mark.django_db(transaction=True)
def test_a_key_result_given_as_locked_needs_a_transaction(acme, carol, kr):
    with pytest.raises(RuntimeError):
        okr.key_result_record_value(
            org=acme, by=carol, key_result=kr, value=D(30), confidence=6, locked=True
        )
    kr.refresh_from_db()
    assert kr.current_value != D(30)


def test_a_check_in_updates_the_key_result_and_its_objective(acme, carol, kr, kr2, objective):
    checkin = services.checkin_record(
        org=acme,
        by=carol,
        key_result=kr,
        value=D(20),
        confidence=7,
        note="Two FAQ pages shipped",
        now=THURSDAY,
    )
    assert (checkin.week, checkin.week_label, checkin.revision) == (
        date(2026, 11, 23),
        "2026-W48",
        1,
    )
    kr.refresh_from_db()
    objective.refresh_from_db()
    assert (kr.current_value, kr.confidence, kr.progress) == (D(20), 7, D("0.5"))
    assert objective.progress == D("0.25")  # (0.5 + 0) / 2
    assert not checkin.on_behalf


def test_checking_in_again_the_same_week_revises_and_keeps_history(acme, carol, kr):
    first = services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(25), confidence=5, now=THURSDAY
    )
    second = services.checkin_record(
        org=acme,
        by=carol,
        key_result=kr,
        value=D(22),
        confidence=6,
        note="Better",
        expected_revision=1,
        now=THURSDAY,
    )
    assert first.pk == second.pk and second.revision == 2
    assert CheckIn.objects.for_org(acme).count() == 1
    assert [h.value for h in second.history.order_by("history_date")] == [D(25), D(22)]


def test_the_week_follows_the_organisations_time_zone(acme, globex, carol, kr):
    # Sunday 23:30 and Monday 00:30 in Taipei are two ISO weeks...
    sunday_night = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)
    monday_morning = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    a = services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(28), confidence=5, now=sunday_night
    )
    b = services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(27), confidence=5, now=monday_morning
    )
    assert (a.week, b.week) == (date(2026, 11, 23), date(2026, 11, 30))
    assert a.pk != b.pk
    # ...while in New York both instants are Sunday of the same week.
    assert (
        services.current_week(globex, sunday_night)
        == services.current_week(globex, monday_morning)
        == date(2026, 11, 23)
    )


def test_a_manager_checks_in_on_behalf_and_it_shows(acme, bob, kr):
    checkin = services.checkin_record(
        org=acme, by=bob, key_result=kr, value=D(26), confidence=6, now=THURSDAY
    )
    assert checkin.on_behalf and checkin.recorded_by == bob and checkin.owner == kr.owner


def test_someone_else_may_not_check_in(acme, erin, mallory, kr):
    with pytest.raises(PermissionDenied):
        services.checkin_record(org=acme, by=erin, key_result=kr, value=D(1), confidence=5)
    with pytest.raises(ValidationError, match="another organisation"):
        services.checkin_record(
            org=mallory.organization, by=mallory, key_result=kr, value=D(1), confidence=5
        )
    assert not CheckIn.objects.for_org(acme).exists()


@pytest.mark.parametrize("confidence", [0, 11, -3])
def test_confidence_is_one_to_ten(acme, carol, kr, confidence):
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(
            org=acme, by=carol, key_result=kr, value=D(20), confidence=confidence
        )
    assert "confidence" in exc.value.message_dict
    kr.refresh_from_db()
    assert kr.current_value is None


def test_no_check_ins_outside_the_active_cycle(acme, alice, carol, kr, cycle):
    okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    with pytest.raises(ValidationError, match="not active"):
        services.checkin_record(org=acme, by=carol, key_result=kr, value=D(20), confidence=5)


def test_a_closed_cycle_takes_no_check_ins_and_keeps_its_values(acme, alice, carol, kr, cycle):
    services.checkin_record(org=acme, by=carol, key_result=kr, value=D(20), confidence=5)
    for state in ("scoring", "closed"):
        okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    for value in (D(25), D(30)):  # this week's revised, and another value
        with pytest.raises(ValidationError, match="is closed; its values are frozen"):
            services.checkin_record(org=acme, by=carol, key_result=kr, value=value, confidence=5)
    assert [c.value for c in CheckIn.objects.for_org(acme)] == [D(20)]
    kr.refresh_from_db()
    assert kr.current_value == D(20)


def test_a_revision_that_lost_the_race_is_refused(acme, carol, bob, kr):
    services.checkin_record(
        org=acme,
        by=carol,
        key_result=kr,
        value=D(25),
        confidence=5,
        expected_revision=0,
        now=THURSDAY,
    )
    services.checkin_record(
        org=acme,
        by=bob,
        key_result=kr,
        value=D(24),
        confidence=5,
        expected_revision=1,
        now=THURSDAY,
    )
    with pytest.raises(ConflictError) as exc:
        services.checkin_record(
            org=acme,
            by=carol,
            key_result=kr,
            value=D(99),
            confidence=5,
            expected_revision=1,
            now=THURSDAY,
        )
    assert exc.value.current.value == D(24)
    kr.refresh_from_db()
    assert kr.current_value == D(24)


def test_a_milestone_check_in_is_zero_or_one(acme, carol, objective):
    milestone = okr.key_result_create(
        org=acme, by=carol, objective=objective, owner=carol, title="Certified", kind="milestone"
    )
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(org=acme, by=carol, key_result=milestone, value=D(3), confidence=5)
    assert "value" in exc.value.message_dict


def test_manager_acknowledges_with_a_reply(acme, bob, carol, erin, kr):
    checkin = services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(25), confidence=5, now=THURSDAY
    )
    with pytest.raises(PermissionDenied):
        services.checkin_acknowledge(org=acme, by=erin, checkin=checkin)
    with pytest.raises(PermissionDenied):
        services.checkin_acknowledge(org=acme, by=carol, checkin=checkin)
    ack = services.checkin_acknowledge(org=acme, by=bob, checkin=checkin, reply="Nice progress")
    assert ack.reply == "Nice progress"
    again = services.checkin_acknowledge(org=acme, by=bob, checkin=checkin)
    assert again.pk == ack.pk and again.reply == "Nice progress"


def test_mentions_send_a_notification(
    acme, bob, carol, erin, kr, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment = services.comment_create(
            org=acme,
            by=carol,
            key_result=kr,
            body="@bob can we talk about this? cc @erin@acme.example",
        )
    assert {m.pk for m in comment.mentions.all()} == {bob.pk, erin.pk}
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@acme.example", "erin@acme.example"]
    assert "Carol Tsai" in mail.outbox[0].subject
    assert "/acme/key-results/" in mail.outbox[0].body


def test_only_the_author_edits_or_deletes_a_comment(acme, bob, carol, kr):
    comment = services.comment_create(org=acme, by=carol, key_result=kr, body="First thought")
    with pytest.raises(PermissionDenied):
        services.comment_update(org=acme, by=bob, comment=comment, body="Changed")
    with pytest.raises(PermissionDenied):
        services.comment_delete(org=acme, by=bob, comment=comment)
    services.comment_update(org=acme, by=carol, comment=comment, body="Second thought")
    comment.refresh_from_db()
    assert comment.body == "Second thought" and comment.edited_at is not None
    with pytest.raises(ValidationError):
        services.comment_update(org=acme, by=carol, comment=comment, body="   ")
    services.comment_delete(org=acme, by=carol, comment=comment)


def test_private_objectives_cannot_be_commented_by_outsiders(acme, alice, carol, erin, cycle):
    private = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=3, owner=carol, title="Private", visibility="private"
    )
    with pytest.raises(PermissionDenied):
        services.comment_create(org=acme, by=erin, objective=private, body="Peek")
    services.comment_create(org=acme, by=alice, objective=private, body="Admin may")


def test_kudos_rules(acme, bob, carol, kr, mallory):
    kudos = services.kudos_give(
        org=acme, by=bob, receiver=carol, message="Great FAQ work", key_result=kr
    )
    assert Kudos.objects.for_org(acme).get() == kudos
    with pytest.raises(ValidationError):
        services.kudos_give(org=acme, by=carol, receiver=carol, message="Me!")
    with pytest.raises(ValidationError):
        services.kudos_give(org=acme, by=carol, receiver=bob, message="  ")
    with pytest.raises(ValidationError, match="another organisation"):
        services.kudos_give(org=acme, by=carol, receiver=mallory, message="Hi")


def test_one_on_one_agenda_puts_need_help_and_low_confidence_first(
    acme, bob, carol, erin, objective, kr, kr2
):
    kr3 = okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Videos from 0 to 5",
        start_value=D(0),
        target_value=D(5),
    )
    services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(25), confidence=8, now=THURSDAY
    )
    services.checkin_record(
        org=acme, by=carol, key_result=kr2, value=D(55), confidence=3, now=THURSDAY
    )
    services.checkin_record(
        org=acme,
        by=carol,
        key_result=kr3,
        value=D(1),
        confidence=6,
        need_help=True,
        note="Blocked on the video tool",
        now=THURSDAY,
    )
    with pytest.raises(ValidationError):
        services.one_on_one_get_or_create(org=acme, by=erin, manager=erin, report=carol)
    pair = services.one_on_one_get_or_create(
        org=acme, by=bob, manager=bob, report=carol, rhythm="monthly"
    )
    first = services.meeting_create(org=acme, by=bob, pair=pair, on=date(2026, 11, 27))
    agenda = list(first.agenda.all())
    assert [a.checkin.key_result_id for a in agenda] == [kr3.pk, kr2.pk, kr.pk]
    assert "needs help" in agenda[0].text
    item = services.action_item_add(
        org=acme, by=bob, meeting=first, text="Buy a video tool", owner=carol
    )
    second = services.meeting_create(org=acme, by=carol, pair=pair, on=date(2026, 12, 4))
    texts = [a.text for a in second.agenda.all()]
    assert texts[-1] == "Open action: Buy a video tool"
    services.action_item_set_done(org=acme, by=carol, item=item, done=True)
    with pytest.raises(PermissionDenied):
        services.meeting_update_notes(org=acme, by=carol, meeting=first, private_notes="x")
    services.meeting_update_notes(
        org=acme, by=bob, meeting=first, shared_notes="Agreed", private_notes="Watch workload"
    )
    assert Meeting.objects.for_org(acme).filter(one_on_one=pair).count() == 2


def test_check_in_rolls_back_entirely_when_refused(acme, carol, kr):
    before = KeyResult.objects.for_org(acme).get(pk=kr.pk).version
    with pytest.raises(ValidationError):
        services.checkin_record(org=acme, by=carol, key_result=kr, value=D(20), confidence=0)
    assert KeyResult.objects.for_org(acme).get(pk=kr.pk).version == before
    assert Objective.objects.for_org(acme).get(pk=kr.objective_id).progress == D(0)


@pytest.mark.parametrize("first", [True, False])
def test_a_check_in_failing_at_its_last_write_leaves_nothing_written(
    first, monkeypatch, acme, carol, kr
):
    """Everything a check-in writes (the key result's value and history, the objective's
    progress, the check-in and its history) is one transaction: the last write failing,
    after all the others were made, undoes them all."""
    from okrapp import rows

    if not first:
        services.checkin_record(
            org=acme, by=carol, key_result=kr, value=D(25), confidence=6, note="kept"
        )

    def written_state():
        return {
            "kr": KeyResult.objects.for_org(acme)
            .values("current_value", "confidence", "progress", "version")
            .get(pk=kr.pk),
            "progress": Objective.objects.for_org(acme).get(pk=kr.objective_id).progress,
            "checkins": list(CheckIn.objects.for_org(acme).values("value", "note", "revision")),
            "kr versions": KeyResult.history.filter(id=kr.pk).count(),
            "check-in versions": CheckIn.history.count(),
        }

    before = written_state()
    copy_to_history, written = rows.copy_to_history, []

    def fail_on_the_check_in_version(instance, *args, **kwargs):
        if isinstance(instance, CheckIn):
            # Everything else is written by now: the key result, progress, the check-in.
            assert KeyResult.objects.for_org(acme).get(pk=kr.pk).current_value == D(20)
            progress = Objective.objects.for_org(acme).get(pk=kr.objective_id).progress
            assert progress != before["progress"]
            assert CheckIn.objects.for_org(acme).filter(value=D(20)).exists()
            written.append(instance)
            raise RuntimeError("the database went away")
        return copy_to_history(instance, *args, **kwargs)

    monkeypatch.setattr(rows, "copy_to_history", fail_on_the_check_in_version)
    with pytest.raises(RuntimeError):
        services.checkin_record(
            org=acme, by=carol, key_result=kr, value=D(20), confidence=9,
            expected_revision=0 if first else 1,
        )  # fmt: skip
    assert written  # it got that far
    assert written_state() == before


def test_a_check_in_writes_no_objective_history_row(acme, carol, kr):
    """Progress is not part of an objective's history; a row per check-in repeated the
    previous one (65,000 a quarter at the scale organisation)."""
    objective = kr.objective
    before = objective.history.count()
    services.checkin_record(org=acme, by=carol, key_result=kr, value=D(25), confidence=6)
    objective.refresh_from_db()
    assert objective.progress > 0
    assert objective.history.count() == before
    assert kr.history.count() == 2  # created, then the value the check-in recorded
