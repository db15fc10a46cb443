"""The company view: mission, company and team objectives, the week's check-in rate,
movers, new calls for help and recent kudos."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import (
    Abs,
    Coalesce,
    Lower,
)

from checkins.dashboards.progress import capped_progress_sql, progress_at
from checkins.dashboards.teams import readable_objectives_q, team_forest
from checkins.models import CheckIn, Kudos, week_label
from checkins.selectors import kudos_subjects
from cycles import permissions, scoring
from cycles.models import (
    Cycle,
    KeyResult,
    Level,
    Objective,
    ObjectiveStatus,
)
from cycles.views.common import set_track
from okrapp import cache as page_cache
from okrapp.db import custom_plans
from okrapp.models import Membership, Organization, Team


@dataclass
class TeamBar:
    team: Team
    depth: int
    progress: Decimal | None
    status: scoring.Status | None
    objectives: int
    hidden: int


@dataclass
class Rate:
    checked: int
    total: int

    @property
    def value(self) -> Decimal | None:
        return Decimal(self.checked) / Decimal(self.total) if self.total else None


@dataclass
class Mover:
    """A key result checked in this week: its progress then (``after``) and at its latest
    value before that week (``before``): the check-in of week ``since``, or its start value
    (``since`` None) when this is its first check-in."""

    kr: KeyResult
    before: Decimal
    after: Decimal
    since: date | None = None
    week: date | None = None  # the week checked in

    @property
    def skipped(self) -> bool:
        """Whether the value compared with is older than the week before."""
        return self.since is not None and self.since < self.week - timedelta(weeks=1)

    @property
    def since_label(self) -> str:
        return week_label(self.since) if self.since else ""

    @property
    def change(self) -> Decimal:
        return scoring.capped(self.after) - scoring.capped(self.before)

    @property
    def up(self) -> bool:
        return self.change > 0

    @property
    def size(self) -> Decimal:
        return abs(self.change)


@dataclass
class CompanyView:
    cycle: Cycle | None
    expected: Decimal | None = None
    week: date | None = None
    change_week: date | None = None  # the week "what changed" compares with the one before
    company_objectives: list[Objective] = field(default_factory=list)
    team_bars: list[TeamBar] = field(default_factory=list)
    rate: Rate | None = None
    rate_last_week: Rate | None = None
    movers: list[Mover] = field(default_factory=list)
    new_need_help: list[CheckIn] = field(default_factory=list)
    kudos: list[Kudos] = field(default_factory=list)


MOVERS = 5
NEED_HELP_SHOWN = 8
KUDOS_SHOWN = 5


def company_view(
    org: Organization,
    viewer: Membership,
    cycle: Cycle | None,
    teams: list[Team],
    week: date,
    *,
    kudos: bool = True,
) -> CompanyView:
    """The company view of ``cycle`` for ``viewer``: six queries (five without the kudos),
    none without a cycle."""
    view = CompanyView(cycle=cycle, week=week)
    if cycle is None:
        return view
    if kudos:
        view.kudos = recent_kudos(org, viewer)
    today = cycle.today()
    view.expected = cycle.expected_progress(today)
    objectives = list(
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .filter(level__in=(Level.COMPANY, Level.TEAM))
        .select_related("owner__user", "team")
    )
    for objective in objectives:
        objective.organization = org
        objective.readable = permissions.can_read_objective(viewer, objective)
        set_track(objective, view.expected)
    view.company_objectives = sorted(
        (o for o in objectives if o.level == Level.COMPANY),
        key=lambda o: (not o.readable, o.title.lower() if o.readable else "", o.pk),
    )
    by_team: dict[int, list[Objective]] = defaultdict(list)
    for objective in objectives:
        if objective.level == Level.TEAM:
            by_team[objective.team_id].append(objective)
    for root in team_forest(teams):
        for node in root.walk():
            own = by_team.get(node.team.pk, [])
            measured = [o.progress for o in own if o.readable and o.progress is not None]
            progress = scoring.objective_progress(measured) if measured else None
            view.team_bars.append(
                TeamBar(
                    team=node.team,
                    depth=node.depth,
                    progress=progress,
                    status=scoring.status(progress, view.expected)
                    if progress is not None
                    else None,
                    objectives=sum(1 for o in own if o.readable),
                    hidden=sum(1 for o in own if not o.readable),
                )
            )
    # Aggregates over the whole cycle's key results and check-ins: planned for their
    # parameters (a generic plan took 1.5-2.5 times as long on the scale organisation).
    with custom_plans():
        view.rate, view.rate_last_week = _weekly_rates(org, cycle, week)
        # Early in a week nobody has checked in yet: what changed is then last week's news.
        if not view.rate.checked and view.rate_last_week.checked:
            view.change_week = week - timedelta(weeks=1)
        else:
            view.change_week = week
        view.movers = _movers(org, viewer, cycle, view.change_week)
        view.new_need_help = _new_need_help(org, viewer, cycle, view.change_week)
    return view


def _weekly_rates(org: Organization, cycle: Cycle, week: date) -> tuple[Rate, Rate]:
    """Key results of the cycle checked in this week and last week, of all (one query).

    One join to the two weeks' check-ins (at most one each per key result), counted per
    week: a correlated EXISTS per key result and week took 30 ms at 5,000 key results."""
    last_week = week - timedelta(weeks=1)
    counts = (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .annotate(
            recent=FilteredRelation("checkins", condition=Q(checkins__week__in=[week, last_week]))
        )
        .aggregate(
            total=Count("id", distinct=True),
            now=Count("recent", filter=Q(recent__week=week)),
            before=Count("recent", filter=Q(recent__week=last_week)),
        )
    )
    return Rate(counts["now"], counts["total"]), Rate(counts["before"], counts["total"])


def _visible_checkins(org: Organization, viewer: Membership, cycle: Cycle):
    checkins = (
        CheckIn.objects.for_org(org)
        .filter(key_result__objective__cycle=cycle)
        .exclude(key_result__objective__status=ObjectiveStatus.ARCHIVED)
    )
    readable = readable_objectives_q(viewer, "key_result__objective__")
    # Private objectives the viewer may not read are left out: a change is content.
    return checkins if readable is None else checkins.filter(readable)


#: Key results ranked in SQL before the exact figures are worked out for the top ones: a
#: margin for SQL's and Python's rounding to disagree at the edge of the top five.
MOVER_CANDIDATES = 4 * MOVERS


def _movers(org: Organization, viewer: Membership, cycle: Cycle, week: date) -> list[Mover]:
    """Key results checked in ``week`` whose progress moved most since their latest value
    before it: their latest earlier check-in (last week's, or older when they skipped a
    week), or their start value when this is their first check-in.

    One query: SQL ranks every key result checked in that week (its earlier check-in read
    by one index lookup each), and only the top few rows are read and worked out exactly.
    The earlier progress is worked out inside that lookup: written as progress of the
    looked-up value, the lookup would appear in each branch of ``capped_progress_sql`` and
    be costed as many times, which on PostgreSQL crossed the JIT threshold at 5,000 key
    results (a quarter of a second compiling). Nothing is filtered on the change in SQL
    (that would look it up again): a key result that did not move, or cannot say, sorts
    last and is dropped here."""
    earlier = (
        CheckIn.objects.for_org(org)
        .filter(key_result=OuterRef("pk"), week__lt=week)
        .order_by("-week")  # one check-in per key result and week
    )
    before_progress = Coalesce(
        Subquery(earlier.annotate(p=capped_progress_sql(F("value"))).values("p")[:1]),
        capped_progress_sql(F("start_value"), ""),
    )
    krs = (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .annotate(this_week=FilteredRelation("checkins", condition=Q(checkins__week=week)))
        .filter(this_week__isnull=False)
    )
    readable = readable_objectives_q(viewer, "objective__")
    # Private objectives the viewer may not read are left out: a change is content.
    if readable is not None:
        krs = krs.filter(readable)
    rows = (
        krs.annotate(
            after=F("this_week__value"),
            before=Coalesce(Subquery(earlier.values("value")[:1]), F("start_value")),
            before_week=Subquery(earlier.values("week")[:1]),
        )
        .annotate(size=Abs(capped_progress_sql(F("after"), "") - before_progress))
        .select_related("objective", "owner__user")
        .order_by(F("size").desc(nulls_last=True), Lower("title"), "id")[:MOVER_CANDIDATES]
    )
    movers = []
    for kr in rows:
        before, after = progress_at(kr, kr.before), progress_at(kr, kr.after)
        if before is None or after is None:
            continue
        mover = Mover(kr=kr, before=before, after=after, since=kr.before_week, week=week)
        if mover.change:
            movers.append(mover)
    movers.sort(key=lambda m: (-abs(m.change), m.kr.title.lower(), m.kr.pk))
    return movers[:MOVERS]


def _new_need_help(org: Organization, viewer: Membership, cycle: Cycle, week: date):
    """This week's check-ins asking for help whose key result did not ask last week."""
    asked_last_week = CheckIn.objects.for_org(org).filter(
        key_result=OuterRef("key_result"), week=week - timedelta(weeks=1), need_help=True
    )
    return list(
        _visible_checkins(org, viewer, cycle)
        .filter(week=week, need_help=True)
        .exclude(Exists(asked_last_week))
        .select_related("key_result__objective", "owner__user")
        .order_by("-updated_at", "-id")[:NEED_HELP_SHOWN]
    )


def recent_kudos(org: Organization, viewer: Membership) -> list[Kudos]:
    """The latest kudos, each with what it was for when the viewer may read that.

    The list is the same for everyone: it is cached per data version (objective and key
    result titles) and newest kudos (kudos are only ever added), which costs one small
    query instead of the joined one; what the viewer may read of it is decided here."""
    latest = Kudos.objects.for_org(org).order_by("-created_at", "-id")
    newest = latest.values_list("id", flat=True).first()
    if newest is None:
        return []
    key = page_cache.key("recent-kudos", org, newest)
    items = cache.get(key)
    if items is None:
        items = list(
            latest.with_people().select_related("key_result__objective__owner", "objective__owner")[
                :KUDOS_SHOWN
            ]
        )
        cache.set(key, items, page_cache.TTL)
    for item in items:
        item.organization = org  # not kept with the cached rows
    kudos_subjects(items, viewer)
    return items
