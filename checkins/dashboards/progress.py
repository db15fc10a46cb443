"""Progress replayed from check-ins: a key result's figures at any week, an objective's
history and its pace forecast, and their SQL twin for ranking."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    F,
    FloatField,
    Q,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    Greatest,
    Least,
    NullIf,
)
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThanOrEqual

from checkins.models import CheckIn, week_label, week_start
from cycles import scoring
from cycles.models import (
    Cycle,
    KeyResult,
)
from okrapp.models import Organization


@dataclass(frozen=True)
class CheckInFact:
    """What the dashboards need of one check-in (read with ``values_list``)."""

    id: int
    key_result_id: int
    week: date
    value: Decimal
    confidence: int
    need_help: bool
    acknowledged: bool

    @property
    def week_label(self) -> str:
        return week_label(self.week)


CHECKIN_FIELDS = (
    "id",
    "key_result_id",
    "week",
    "value",
    "confidence",
    "need_help",
    "acknowledgement__id",
)


def checkin_facts(org: Organization, key_result_ids: Iterable[int]) -> dict[int, list[CheckInFact]]:
    """Every check-in of these key results, oldest first, by key result (one query)."""
    by_kr: dict[int, list[CheckInFact]] = defaultdict(list)
    ids = list(key_result_ids)
    if not ids:
        return by_kr
    rows = (
        CheckIn.objects.for_org(org)
        .filter(key_result_id__in=ids)
        .order_by("week", "id")
        .values_list(*CHECKIN_FIELDS)
    )
    for pk, kr_id, week, value, confidence, need_help, ack_id in rows:
        by_kr[kr_id].append(
            CheckInFact(pk, kr_id, week, value, confidence, need_help, ack_id is not None)
        )
    return by_kr


def progress_at(kr: KeyResult, value: Decimal | None) -> Decimal | None:
    """Raw progress ``kr`` would have at ``value`` (None if the KR cannot say)."""
    try:
        return kr.progress_at(value)
    except (TypeError, ValueError):
        return None


def progress_history(
    krs: Sequence[KeyResult],
    checkins: dict[int, list[CheckInFact]],
    *,
    cycle: Cycle,
    today: date,
) -> list[tuple[date, Decimal]]:
    """An objective's weekly progress, replayed from its key results' check-ins.

    One point per week from the first week with a check-in to the current one: the
    weighted mean of each key result's capped progress at its latest value that week (a key
    result not checked in yet counts 0). The point is dated at the end of its week, or
    today for the week still running.
    """
    weeks = sorted({c.week for kr in krs for c in checkins.get(kr.pk, ())})
    if not krs or not weeks:
        return []
    this_week = week_start(today)
    points = []
    week = weeks[0]
    while week <= min(this_week, week_start(cycle.end_date)):
        items = []
        for kr in krs:
            latest = None
            for fact in checkins.get(kr.pk, ()):
                if fact.week <= week:
                    latest = fact
            progress = progress_at(kr, latest.value) if latest else None
            items.append((progress, kr.weight))
        on = min(week + timedelta(days=6), today, cycle.end_date)
        on = max(on, cycle.start_date)
        points.append((on, scoring.objective_progress(items)))
        week += timedelta(days=7)
    return points


def forecast(points: Sequence[tuple[date, Decimal]], cycle: Cycle) -> Decimal | None:
    """Where the trend of ``points`` lands by the end of the cycle (raw), or None."""
    return scoring.pace_forecast(points, start=cycle.start_date, end=cycle.end_date)


def capped_progress_sql(value, prefix: str = "key_result__"):
    """The SQL twin of ``capped(raw_progress(...))`` of the key result at ``prefix`` for
    ``value``, in floating point (good for ranking; exact figures come from Python); NULL
    where ``progress_at`` says None (a key result that cannot say)."""
    real = FloatField()
    one, zero = Value(1.0, output_field=real), Value(0.0, output_field=real)

    def kr(name: str):
        return F(f"{prefix}{name}")

    def flag(condition):
        return Case(When(condition, then=one), default=zero, output_field=real)

    linear_directions = (scoring.Direction.INCREASE, scoring.Direction.DECREASE)
    start, target = kr("start_value"), kr("target_value")
    lower, upper = kr("lower_bound"), kr("upper_bound")
    # Cast first: SQLite divides whole numbers as integers.
    linear = Least(
        Greatest(Cast(value - start, real) / NullIf(Cast(target - start, real), zero), zero),
        one,
    )
    return Case(
        When(
            Q(**{f"{prefix}kind": scoring.Kind.MILESTONE}),
            then=flag(GreaterThanOrEqual(value, 1)),
        ),
        When(
            Q(**{f"{prefix}direction__in": linear_directions}),
            then=Case(
                When(
                    Q(**{f"{prefix}start_value__isnull": False})
                    & Q(**{f"{prefix}target_value__isnull": False})
                    # PostgreSQL's GREATEST skips a NULL (start == target): say so here.
                    & ~Q(**{f"{prefix}start_value": kr("target_value")}),
                    then=linear,
                ),
                default=None,
                output_field=real,
            ),
        ),
        When(
            Q(**{f"{prefix}direction": scoring.Direction.STAY_BETWEEN})
            & Q(**{f"{prefix}lower_bound__isnull": False})
            & Q(**{f"{prefix}upper_bound__isnull": False}),
            then=Case(
                When(GreaterThan(lower, upper), then=None),
                When(
                    GreaterThanOrEqual(value, lower) & LessThanOrEqual(value, upper),
                    then=one,
                ),
                default=zero,
                output_field=real,
            ),
        ),
        When(
            Q(**{f"{prefix}direction": scoring.Direction.STAY_AT_LEAST})
            & Q(**{f"{prefix}target_value__isnull": False}),
            then=flag(GreaterThanOrEqual(value, target)),
        ),
        When(
            Q(**{f"{prefix}direction": scoring.Direction.STAY_AT_MOST})
            & Q(**{f"{prefix}target_value__isnull": False}),
            then=flag(LessThanOrEqual(value, target)),
        ),
        default=None,
        output_field=real,
    )
