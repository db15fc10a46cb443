"""Reads that assemble a page's worth of cadence data in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q

from checkins.charts import burnup
from checkins.models import Acknowledgement, CheckIn
from cycles import permissions, scoring
from cycles.models import Cycle, CycleState, KeyResult, Objective, ObjectiveStatus
from cycles.scoring import plain
from okrapp.models import Membership, Organization
from okrapp.rows import MAX_ID


@dataclass
class KeyResultWeek:
    """One KR as "My week" shows it."""

    kr: KeyResult
    this_week: CheckIn | None
    last: CheckIn | None  # latest check-in before this week
    history: list[CheckIn]
    expected: Decimal
    chart: dict
    current_week: date

    @property
    def open(self) -> bool:
        """Its cycle is active. One that is not is on the page only to show why its
        check-in was refused (``my_week(also=…)``): nothing is due in it."""
        return self.kr.objective.cycle.state == CycleState.ACTIVE

    @property
    def due(self) -> bool:
        return self.this_week is None and self.open

    @property
    def status(self) -> scoring.Status:
        return scoring.status(self.kr.progress, self.expected)

    @property
    def expected_value(self) -> Decimal | None:
        """The value the KR would have today if it moved in a straight line."""
        kr = self.kr
        if kr.is_milestone or kr.is_stay or kr.start_value is None or kr.target_value is None:
            return None
        return kr.start_value + (kr.target_value - kr.start_value) * self.expected

    @property
    def prefill(self) -> dict:
        data = self._prefill()
        if data["value"] is not None:
            data["value"] = plain(data["value"])
        return data

    def _prefill(self) -> dict:
        """This week's entry, or last week's carried forward (one keystroke if unchanged)."""
        source = self.this_week or self.last
        if source is None:
            value = (
                self.kr.current_value
                if self.kr.current_value is not None
                else (self.kr.start_value if not self.kr.is_milestone else Decimal(0))
            )
            return {
                "value": value,
                "confidence": self.kr.confidence,
                "note": "",
                "need_help": False,
            }
        return {
            "value": source.value,
            "confidence": source.confidence,
            "note": self.this_week.note if self.this_week else "",
            "need_help": self.this_week.need_help if self.this_week else False,
        }

    @property
    def revision(self) -> int:
        return self.this_week.revision if self.this_week else 0

    @property
    def acknowledgement(self) -> Acknowledgement | None:
        """The manager's latest word on this or last week's check-in, for the report."""
        week_before = self.current_week - timedelta(days=7)
        last_week = self.last if self.last and self.last.week >= week_before else None
        acks = [_loaded_acknowledgement(c) for c in (self.this_week, last_week) if c]
        acks = [a for a in acks if a is not None]
        return max(acks, key=lambda a: a.created_at) if acks else None


def _loaded_acknowledgement(checkin: CheckIn) -> Acknowledgement | None:
    """The acknowledgement loaded with the check-in (``select_related``), never a query: a
    check-in saved just now has none yet."""
    return checkin._state.fields_cache.get("acknowledgement")


@dataclass
class ObjectiveWeek:
    objective: Objective
    key_results: list[KeyResultWeek] = field(default_factory=list)


@dataclass
class MyWeek:
    cycle: Cycle | None
    week: date
    objectives: list[ObjectiveWeek]

    @property
    def key_results(self) -> list[KeyResultWeek]:
        return [k for o in self.objectives for k in o.key_results]

    @property
    def due(self) -> list[KeyResultWeek]:
        return [k for k in self.key_results if k.due]

    @property
    def done_for_the_week(self) -> bool:
        return any(k.open for k in self.key_results) and not self.due


def active_cycle(org: Organization) -> Cycle | None:
    return Cycle.objects.for_org(org).active().select_related("organization").first()


def my_key_results(org: Organization, membership: Membership):
    """The key results on ``membership``'s My week: their own, in the active cycle, not
    under an archived objective."""
    return (
        KeyResult.objects.for_org(org)
        .filter(owner=membership, objective__cycle__state=CycleState.ACTIVE)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
    )


def checks_in_from_my_week(key_result: KeyResult, membership: Membership) -> bool:
    """My week takes a check-in on this key result (read with its objective): the rule of
    :func:`my_key_results` for one key result in hand, less its cycle's state. One whose
    cycle is not active (it moved on while the page was open) is the check-in service's to
    refuse, with its reason, not a key result unknown here (a check-in from My week locks
    the row first and asks)."""
    return (
        key_result.owner_id == membership.pk
        and key_result.objective.status != ObjectiveStatus.ARCHIVED
    )


def week_checkin(org: Organization, key_result_id: int, week: date) -> CheckIn | None:
    """The key result's check-in of ``week`` as it is now, with who recorded it."""
    return (
        CheckIn.objects.for_org(org)
        .filter(key_result_id=key_result_id, week=week)
        .select_related("recorded_by__user")
        .first()
    )


def my_week(
    org: Organization,
    membership: Membership,
    week: date,
    today: date,
    *,
    also: Collection[int] = (),
) -> MyWeek:
    """Everything ``membership`` owns in the active cycle, with its check-ins (2 queries;
    a third finds the cycle when the person owns nothing in it).

    ``also``: key results a save just sent from the page. Those the person checks in on
    from My week (:func:`checks_in_from_my_week`) stay on it whatever their cycle's state,
    so a check-in refused because the cycle moved on comes back with its reason and what
    was typed."""
    krs = my_key_results(org, membership)
    also = [pk for pk in also if 0 < pk <= MAX_ID]
    if also:
        krs = (
            KeyResult.objects.for_org(org)
            .filter(Q(pk__in=krs.values("pk")) | Q(pk__in=also, owner=membership))
            .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        )
    krs = krs.select_related("objective__cycle")
    krs = list(krs.order_by("objective__level", "objective__title", "position", "id"))
    active = [k for k in krs if k.objective.cycle.state == CycleState.ACTIVE]
    cycle = active[0].objective.cycle if active else active_cycle(org)
    if not krs:
        return MyWeek(cycle=cycle, week=week, objectives=[])
    for kr in krs:
        kr.owner = membership  # the person themselves: no join, no query
    by_kr: dict[int, list[CheckIn]] = defaultdict(list)
    for checkin in (
        CheckIn.objects.for_org(org)
        .filter(key_result__in=[k.pk for k in krs])
        .select_related("acknowledgement__by__user")
    ):
        by_kr[checkin.key_result_id].append(checkin)
    grouped: dict[int, ObjectiveWeek] = {}
    for kr in krs:
        kr_cycle = kr.objective.cycle
        history = sorted(by_kr[kr.pk], key=lambda c: c.week)
        this_week = next((c for c in history if c.week == week), None)
        earlier = [c for c in history if c.week < week]
        grouped.setdefault(kr.objective_id, ObjectiveWeek(kr.objective)).key_results.append(
            KeyResultWeek(
                kr=kr,
                this_week=this_week,
                last=earlier[-1] if earlier else None,
                history=history,
                expected=kr_cycle.expected_progress(today),
                current_week=week,
                chart=burnup(
                    kr=kr,
                    cycle=kr_cycle,
                    checkins=history,
                    today=today,
                    width=220,
                    height=64,
                    pad=4,
                    chart_id=str(kr.pk),
                ),
            )
        )
    return MyWeek(cycle=cycle, week=week, objectives=list(grouped.values()))


def weeks_of(cycle: Cycle) -> list[date]:
    """Mondays of every ISO week the cycle touches."""
    first = cycle.start_date - timedelta(days=cycle.start_date.weekday())
    weeks = []
    while first <= cycle.end_date:
        weeks.append(first)
        first += timedelta(days=7)
    return weeks


def kudos_subjects(items, viewer: Membership) -> None:
    """Give each kudos ``subject`` (its key result or objective) when ``viewer`` may read
    it, else ``subject_hidden`` when it names a private objective: it is not named. Needs
    each item's ``objective`` and ``key_result__objective`` read with it."""
    for item in items:
        objective = item.objective or (item.key_result.objective if item.key_result else None)
        item.subject = None
        item.subject_hidden = False
        if objective is None:
            continue
        if permissions.can_read_objective(viewer, objective):
            item.subject = item.key_result or item.objective
            item.subject.organization = item.organization
        else:
            item.subject_hidden = True
