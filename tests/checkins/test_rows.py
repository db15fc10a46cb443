"""The check-in's rows read and written by SQL built once (``okrapp.rows``) are the ORM's:
the same values read back on either database, the same history rows simple_history writes,
and nothing else left out by skipping ``save()``'s signals."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import transaction
from django.db.models import signals
from simple_history.models import HistoricalRecords

from checkins import services
from checkins.models import CheckIn
from cycles import services as okr
from cycles.models import Cycle, KeyResult, Objective
from okrapp import rows

pytestmark = pytest.mark.django_db

THURSDAY = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # ISO week 2026-W48 in Taipei


def _values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def _history_values(row) -> dict:
    own = {"history_id", "history_date", "history_type"}
    return {k: v for k, v in _values(row).items() if k not in own}


@pytest.fixture
def currency_kr(acme, carol, objective):
    return okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Hold monthly cloud spend between 1,200.50 and 1,450.25",
        kind="currency",
        currency="eur",
        direction="stay_between",
        lower_bound=D("1200.5"),
        upper_bound=D("1450.25"),
    )


def test_the_locking_read_gives_the_rows_the_orm_reads(acme, carol, currency_kr):
    checkin = services.checkin_record(
        org=acme,
        by=carol,
        key_result=currency_kr,
        value=D("1333.1234"),
        confidence=6,
        note="Reserved instances bought",
        need_help=True,
        now=THURSDAY,
    )
    with transaction.atomic():
        locked = services.lock_for_checkin(acme, currency_kr.pk, week=checkin.week)
    kr = KeyResult.objects.for_org(acme).get(pk=currency_kr.pk)
    assert _values(locked) == _values(kr)
    objective = Objective.objects.for_org(acme).get(pk=kr.objective_id)
    assert _values(locked.objective) == _values(objective)
    cycle = Cycle.objects.for_org(acme).get(pk=objective.cycle_id)
    assert _values(locked.objective.cycle) == _values(cycle)
    assert _values(locked.week_checkin) == _values(CheckIn.objects.for_org(acme).get(pk=checkin.pk))
    assert locked.week_checkin.need_help is True and locked.lower_bound == D("1200.5")
    assert locked.organization is acme and locked.week_checkin.key_result is locked


def test_another_organisations_key_result_is_not_found(acme, globex, kr):
    with transaction.atomic(), pytest.raises(KeyResult.DoesNotExist):
        services.lock_for_checkin(globex, kr.pk, week=THURSDAY.date())


def test_history_rows_are_the_ones_simple_history_writes(acme, carol, kr):
    """A check-in's versions, written by SQL, against the ones ``save()`` has
    simple_history write for the same rows."""
    first = services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(25), confidence=5, now=THURSDAY
    )
    services.checkin_record(
        org=acme,
        by=carol,
        key_result=kr,
        value=D("22.5"),
        confidence=7,
        note="Better",
        now=THURSDAY,
    )
    written = list(CheckIn.history.filter(id=first.pk).order_by("history_id"))
    assert [h.history_type for h in written] == ["+", "~"]
    assert all(h.history_user_id == carol.user_id for h in written)

    stored = CheckIn.objects.for_org(acme).get(pk=first.pk)
    stored._history_user = carol.user
    stored.save()  # simple_history's own row of the same values
    by_orm = CheckIn.history.filter(id=first.pk).latest("history_id")
    assert _history_values(by_orm) == _history_values(written[-1])
    assert written[-1].value == D("22.5") and written[-1].revision == 2

    kr_version = KeyResult.history.filter(id=kr.pk).latest("history_id")
    assert kr_version.history_type == "~" and kr_version.history_user_id == carol.user_id
    stored_kr = KeyResult.objects.for_org(acme).get(pk=kr.pk)
    stored_kr._history_user = carol.user
    stored_kr.save()
    by_orm = KeyResult.history.filter(id=kr.pk).latest("history_id")
    assert _history_values(by_orm) == _history_values(kr_version)
    assert kr_version.current_value == D("22.5") and kr_version.confidence == 7


def test_a_row_that_is_not_there_is_an_error_not_a_silent_no_op(acme, globex, kr):
    kr.organization_id = globex.pk  # scoped to another organisation: no row matches
    with transaction.atomic(), pytest.raises(KeyResult.DoesNotExist):
        rows.update(kr, ("confidence",))


@pytest.mark.parametrize("model", [KeyResult, CheckIn])
def test_only_simple_history_listens_to_the_rows_written_by_hand(model):
    """Writing these rows skips ``save()``'s signals; simple_history's row is written by
    ``rows.copy_to_history``. A new receiver would be skipped too: write it into the
    check-in's path instead (``checkins.services.checkin_record``)."""
    assert signals.pre_save._live_receivers(model) == ([], [])
    receivers, async_receivers = signals.post_save._live_receivers(model)
    assert async_receivers == []
    assert len(receivers) == 1
    assert isinstance(receivers[0].__self__, HistoricalRecords)
    assert receivers[0].__func__ is HistoricalRecords.post_save
