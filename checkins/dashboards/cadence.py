"""Cadence health: check-in rates per team and week, streaks, people never checked in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import (
    Count,
)
from django.utils.translation import gettext as _

from checkins.dashboards.teams import team_forest
from checkins.models import CheckIn, week_label, week_start
from checkins.selectors import weeks_of
from cycles.models import (
    Cycle,
    CyclePilotTeam,
    KeyResult,
    ObjectiveStatus,
)
from okrapp.models import Membership, Organization, Team, TeamMembership


@dataclass
class WeekRate:
    week: date
    checked: int
    total: int
    future: bool

    @property
    def value(self) -> Decimal | None:
        if self.future or not self.total:
            return None
        return Decimal(self.checked) / Decimal(self.total)

    @property
    def label(self) -> str:
        return week_label(self.week)


def streaks(rates: Sequence[WeekRate], this_week: date) -> tuple[int, int]:
    """(current, longest) runs of consecutive weeks at 100 %.

    The current run ends with this week if it is complete already, else with last week
    (this week is still open, so it does not break the run).
    """
    past = [r for r in rates if not r.future]
    longest = run = 0
    for rate in past:
        run = run + 1 if rate.value == 1 else 0
        longest = max(longest, run)
    current = 0
    for i, rate in enumerate(reversed(past)):
        if rate.value == 1:
            current += 1
        elif i == 0 and rate.week == this_week:
            continue  # this week is still open
        else:
            break
    return current, longest


@dataclass
class TeamCadence:
    name: str
    team: Team | None  # None for a group that is no team (everyone, the pilot, the rest)
    depth: int
    people: int
    key_results: int
    weeks: list[WeekRate]
    pilot: bool = False

    this_week: date | None = None

    @property
    def streak(self) -> int:
        return streaks(self.weeks, self.this_week)[0]

    @property
    def longest_streak(self) -> int:
        return streaks(self.weeks, self.this_week)[1]

    @property
    def checked(self) -> int:
        return sum(w.checked for w in self.weeks if not w.future)

    @property
    def possible(self) -> int:
        return sum(w.total for w in self.weeks if not w.future)

    @property
    def rate(self) -> Decimal | None:
        return Decimal(self.checked) / Decimal(self.possible) if self.possible else None


@dataclass
class CadenceHealth:
    cycle: Cycle
    weeks: list[date]
    this_week: date
    teams: list[TeamCadence]
    never: list[Membership]
    pilot: list[TeamCadence]  # pilot people against the rest, in pilot mode
    everyone: TeamCadence | None = None


def _group_rates(
    weeks: list[date],
    this_week: date,
    owners: Iterable[int],
    owned: dict[int, int],
    checked: dict[tuple[int, date], int],
) -> tuple[int, list[WeekRate]]:
    owners = set(owners)
    total = sum(owned.get(p, 0) for p in owners)
    return total, [
        WeekRate(
            week=w,
            checked=sum(checked.get((p, w), 0) for p in owners),
            total=total,
            future=w > this_week,
        )
        for w in weeks
    ]


def cadence_health(org: Organization, cycle: Cycle, teams: list[Team]) -> CadenceHealth:
    """Check-in rates per team and week of ``cycle``, streaks, people who never checked in,
    and the pilot against the rest (four queries, five in pilot mode)."""
    weeks = weeks_of(cycle)
    this_week = week_start(cycle.today())
    people_of: dict[int, set[int]] = defaultdict(set)
    for team_id, person_id in (
        TeamMembership.objects.for_org(org)
        .filter(membership__active=True, membership__user__is_active=True)
        .values_list("team_id", "membership_id")
    ):
        people_of[team_id].add(person_id)
    krs = (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
    )
    owned = dict(krs.order_by().values_list("owner_id").annotate(n=Count("id")))
    checked: dict[tuple[int, date], int] = {}
    for owner_id, week, n in (
        CheckIn.objects.for_org(org)
        .filter(key_result__in=krs, week__gte=weeks[0], week__lte=weeks[-1])
        .order_by()
        .values_list("key_result__owner_id", "week")
        .annotate(n=Count("id"))
    ):
        checked[(owner_id, week)] = n
    health = CadenceHealth(
        cycle=cycle, weeks=weeks, this_week=this_week, teams=[], never=[], pilot=[]
    )
    pilot_ids: set[int] = set()
    if cycle.is_pilot:
        pilot_ids = set(
            CyclePilotTeam.objects.for_org(org)
            .filter(cycle=cycle)
            .values_list("team_id", flat=True)
        )
    for root in team_forest(teams):
        for node in root.walk():
            inside = set().union(*(people_of[t] for t in node.subtree_ids))
            total, rates = _group_rates(weeks, this_week, inside, owned, checked)
            if not total:
                continue
            health.teams.append(
                TeamCadence(
                    name=node.team.name,
                    team=node.team,
                    depth=node.depth,
                    people=sum(1 for p in inside if owned.get(p)),
                    key_results=total,
                    weeks=rates,
                    pilot=node.team.pk in pilot_ids,
                    this_week=this_week,
                )
            )
    everyone_total, everyone_rates = _group_rates(weeks, this_week, owned, owned, checked)
    if everyone_total:
        health.everyone = TeamCadence(
            name=_("Everyone"),
            team=None,
            depth=0,
            people=len(owned),
            key_results=everyone_total,
            weeks=everyone_rates,
            this_week=this_week,
        )
    if cycle.is_pilot:
        # The same people the reminders go to: members of the pilot teams themselves.
        on_pilot = set().union(*(people_of[t] for t in pilot_ids)) if pilot_ids else set()
        for name, group, pilot in (
            (_("Pilot teams"), on_pilot & set(owned), True),
            (_("Everyone else"), set(owned) - on_pilot, False),
        ):
            total, rates = _group_rates(weeks, this_week, group, owned, checked)
            health.pilot.append(
                TeamCadence(
                    name=name,
                    team=None,
                    depth=0,
                    people=len(group),
                    key_results=total,
                    weeks=rates,
                    pilot=pilot,
                    this_week=this_week,
                )
            )
    ever = {owner_id for owner_id, _week in checked}
    never_ids = [p for p in owned if p not in ever]
    if never_ids:
        health.never = list(
            Membership.objects.for_org(org)
            .active()
            .filter(pk__in=never_ids)
            .select_related("user")
            .order_by("user__full_name", "user__email")
        )
    return health
