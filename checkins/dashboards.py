"""The figures of the dashboards: a team's people x key results, the company view, cadence
health. Each reader here takes a constant number of queries, however large the team.

Definitions (DESIGN.md, "Scoring rules" and "Cadence drives performance"):

* A team's people are the active members of the team and of every team below it. The
  dashboard lists each person once, under the first team of the tree (the team itself,
  then its sub-teams depth first) they are on.
* A key result's figures: raw progress (shown capped), expected progress today (the elapsed
  share of the cycle, the same for every key result), status (on track / at risk / behind),
  the confidence of its latest check-in and its change since the check-in before, the
  latest check-in's need-help flag, and the weeks missed: weeks of the cycle that are over
  (this week is still open) without a check-in, counted from the week the key result
  appeared (its creation, or its first check-in if earlier).
* Unacknowledged check-ins: those of the last ``ACK_WEEKS`` weeks nobody has acknowledged,
  the window of the manager's acknowledgement queue.
* Team objective progress: the weighted mean of its key results' capped progress
  (``cycles.scoring.objective_progress``); a team's roll-up is the plain mean over the team
  objectives of the team and its sub-teams that the viewer may read.
* Pace forecast: ``cycles.scoring.pace_forecast`` over the objective's weekly progress
  history, replayed from the check-ins (each key result at its latest value that week),
  from the first week with a check-in to this week.
* Check-in rate of a team in a week: key results owned by its people (sub-teams included)
  checked in that week / key results they own in the cycle.
* Private objectives the viewer may not read (``cycles.permissions.can_read_objective``)
  are blanked: their rows keep their place and their person, never their titles or figures,
  and they match no filter but the person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Cast, Coalesce, Greatest, Least, Lower, NullIf
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from checkins.models import CheckIn, Kudos, week_label, week_start
from checkins.selectors import weeks_of
from checkins.services import manages
from cycles import permissions, scoring
from cycles.models import (
    Cycle,
    CyclePilotTeam,
    KeyResult,
    Level,
    Objective,
    ObjectiveStatus,
    Visibility,
)
from cycles.views.common import STATUS_LABELS, set_track
from okrapp import cache as page_cache
from okrapp.db import custom_plans
from okrapp.models import Membership, Organization, Team, TeamMembership

#: Check-ins older than this many weeks (this one included) no longer wait for a manager.
ACK_WEEKS = 4

#: Order of statuses when sorting "worst first".
STATUS_RANK = {scoring.Status.BEHIND: 0, scoring.Status.AT_RISK: 1, scoring.Status.ON_TRACK: 2}


# --- Teams ------------------------------------------------------------------------------------


@dataclass
class TeamNode:
    team: Team
    depth: int
    children: list[TeamNode] = field(default_factory=list)

    def walk(self) -> Iterable[TeamNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def subtree_ids(self) -> set[int]:
        return {node.team.pk for node in self.walk()}


def team_forest(teams: Sequence[Team]) -> list[TeamNode]:
    """The organisation's teams as trees, children by name (no queries)."""
    by_parent: dict[int | None, list[Team]] = defaultdict(list)
    known = {t.pk for t in teams}
    for team in sorted(teams, key=lambda t: t.name.lower()):
        by_parent[team.parent_id if team.parent_id in known else None].append(team)

    def grow(team: Team, depth: int, seen: frozenset[int]) -> TeamNode:
        inside = seen | {team.pk}
        return TeamNode(
            team,
            depth,
            [grow(c, depth + 1, inside) for c in by_parent[team.pk] if c.pk not in inside],
        )

    return [grow(t, 0, frozenset()) for t in by_parent[None]]


def find_node(forest: Iterable[TeamNode], team_id: int) -> TeamNode | None:
    for root in forest:
        for node in root.walk():
            if node.team.pk == team_id:
                return node
    return None


def ancestors_of(teams: Sequence[Team], team: Team) -> list[Team]:
    """The teams above ``team``, the top one first (no queries)."""
    by_id = {t.pk: t for t in teams}
    chain: list[Team] = []
    parent = by_id.get(team.parent_id)
    while parent is not None and parent not in chain and parent != team:
        chain.append(parent)
        parent = by_id.get(parent.parent_id)
    return list(reversed(chain))


def load_teams(org: Organization) -> list[Team]:
    """Every team of the organisation (one query), ready for links."""
    teams = list(Team.objects.for_org(org))
    for team in teams:
        team.organization = org
    return teams


def readable_objectives_q(viewer: Membership, prefix: str = "") -> Q | None:
    """The SQL twin of ``permissions.can_read_objective`` (None: everything is readable)."""
    if viewer.is_admin:
        return None
    return (
        Q(**{f"{prefix}visibility": Visibility.PUBLIC})
        | Q(**{f"{prefix}owner": viewer})
        | Q(**{f"{prefix}team_id__in": viewer.managed_team_ids})
        | Q(**{f"{prefix}owner__manager": viewer})
    )


# --- Progress replayed from check-ins --------------------------------------------------------


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
        return scoring.raw_progress(
            kind=kr.kind,
            direction=kr.direction,
            start=kr.start_value,
            target=kr.target_value,
            current=value,
            lower=kr.lower_bound,
            upper=kr.upper_bound,
        )
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


# --- Team dashboard ---------------------------------------------------------------------------


@dataclass
class KeyResultRow:
    """One person x key result line of the team dashboard (``kr`` None: no key results)."""

    group: TeamNode
    person: Membership
    kr: KeyResult | None
    readable: bool = True
    progress: Decimal | None = None
    expected: Decimal | None = None
    status: scoring.Status | None = None
    confidence: int | None = None
    confidence_change: int | None = None
    last_checkin: CheckInFact | None = None
    weeks_missed: int | None = None
    weeks_counted: int | None = None
    need_help: bool = False
    unacknowledged: int = 0
    acknowledge: CheckInFact | None = None  # the check-in the viewer may acknowledge here

    @property
    def objective(self) -> Objective | None:
        return self.kr.objective if self.kr else None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status] if self.status else ""

    @property
    def capped(self) -> Decimal | None:
        return None if self.progress is None else scoring.capped(self.progress)

    @property
    def expected_value(self) -> Decimal | None:
        """The value the key result would have today on a straight line to its target."""
        kr = self.kr
        if (
            kr is None
            or not self.readable
            or kr.is_milestone
            or kr.is_stay
            or kr.start_value is None
            or kr.target_value is None
        ):
            return None
        value = kr.start_value + (kr.target_value - kr.start_value) * self.expected
        # As precise as a person reads it: 195.7, 7.3, 1.87.
        places = Decimal("0.1") if abs(value) >= 10 else Decimal("0.01")
        return value.quantize(places, rounding=ROUND_HALF_UP).normalize()


@dataclass
class ObjectiveFigures:
    objective: Objective
    readable: bool
    progress: Decimal | None
    status: scoring.Status | None
    history: list[tuple[date, Decimal]]
    forecast: Decimal | None
    key_result_count: int

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status] if self.status else ""

    @property
    def forecast_capped(self) -> Decimal | None:
        return None if self.forecast is None else scoring.capped(self.forecast)


@dataclass
class TeamGroup:
    """A team's section of the dashboard: its people's rows and its team objectives, with
    roll-ups over the team and every team below it."""

    node: TeamNode
    people: list[Membership]
    rows: list[KeyResultRow]
    objectives: list[ObjectiveFigures]
    rollup_progress: Decimal | None = None
    rollup_objectives: int = 0
    rollup_hidden: int = 0
    rollup_people: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    need_help: int = 0
    unacknowledged: int = 0
    shown: list = field(default_factory=list)  # rows after filters and sort (or people lines)
    shown_people: list = field(default_factory=list)  # PersonLine (or PersonSummary) lines

    @property
    def team(self) -> Team:
        return self.node.team


@dataclass
class TeamDashboard:
    team: Team
    cycle: Cycle | None
    today: date
    expected: Decimal | None
    groups: list[TeamGroup]
    people: list[Membership]
    ancestors: list[Team] = field(default_factory=list)  # the teams above, top first
    rows_loaded: bool = False  # every person x key result line is built (``load_rows``)
    summary: list[SummaryRow] | None = None  # the people counted in SQL (``rows=False``)
    context: _BoardContext | None = None

    @property
    def rows(self) -> list[KeyResultRow]:
        return [row for group in self.groups for row in group.rows]

    @property
    def top(self) -> TeamGroup:
        return self.groups[0]

    @property
    def objective_choices(self) -> list[Objective]:
        seen: dict[int, Objective] = {}
        if self.rows_loaded:
            for row in self.rows:
                if row.kr is not None and row.readable:
                    seen.setdefault(row.kr.objective_id, row.kr.objective)
        else:
            for item in self.summary or ():
                if item.readable and item.objective_id not in seen:
                    seen[item.objective_id] = Objective(
                        pk=item.objective_id,
                        level=item.objective_level,
                        title=item.objective_title,
                    )
        return sorted(seen.values(), key=lambda o: (o.level, o.title.lower(), o.pk))


def team_dashboard(
    org: Organization,
    viewer: Membership,
    node: TeamNode,
    cycle: Cycle | None,
    *,
    today: date | None = None,
    objective_history: bool = True,
    rows: bool = True,
    sort: str = "",
) -> TeamDashboard:
    """The dashboard of ``node``'s team for ``cycle``: four queries (the people with every
    team they are on, the team objectives, the key results, their check-ins), and up to two
    more to know which private objectives the viewer may read.

    ``objective_history=False`` leaves out the team objectives' weekly history and
    forecast (their progress and status stay): for a caller that has them drawn already.

    ``rows=False`` builds no person x key result line: the people are summarised in SQL
    (``summary``, one query instead of the key results and check-ins; ``sort="missed"``
    also counts weeks missed), enough for the filter choices and the roll-ups. The caller
    then filters with ``summarise`` and finishes with ``load_rows`` (few lines) or
    ``load_objectives`` (the collapsed view)."""
    scope = list(node.walk())
    scope_ids = [n.team.pk for n in scope]
    on_scope = TeamMembership.objects.for_org(org).filter(
        team_id__in=scope_ids, membership__active=True, membership__user__is_active=True
    )
    # Every team of these people, not only this tree's: whether the viewer may acknowledge
    # their check-ins depends on them (``manages``).
    memberships = list(
        TeamMembership.objects.for_org(org)
        .filter(membership_id__in=on_scope.values("membership_id"))
        .select_related("membership__user")
        .order_by("membership__user__full_name", "membership__user__email", "membership_id")
    )
    order = {team_id: i for i, team_id in enumerate(scope_ids)}
    home: dict[int, int] = {}  # person → the first team of the tree they are on
    people: dict[int, Membership] = {}
    team_ids: dict[int, set[int]] = defaultdict(set)
    for tm in memberships:
        team_ids[tm.membership_id].add(tm.team_id)
    for tm in sorted(
        (tm for tm in memberships if tm.team_id in order), key=lambda tm: order[tm.team_id]
    ):
        if tm.membership_id not in home:
            home[tm.membership_id] = tm.team_id
            person = tm.membership
            person.organization = org
            person.__dict__["team_ids"] = team_ids[person.pk]
            people[person.pk] = person
    people_sorted = sorted(people.values(), key=_person_name)
    today = today or (cycle.today() if cycle else timezone.localdate())
    groups = {n.team.pk: TeamGroup(node=n, people=[], rows=[], objectives=[]) for n in scope}
    for person in people_sorted:
        groups[home[person.pk]].people.append(person)
    dashboard = TeamDashboard(
        team=node.team,
        cycle=cycle,
        today=today,
        expected=None,
        groups=[groups[team_id] for team_id in scope_ids],
        people=people_sorted,
    )
    dashboard.context = _BoardContext(org, viewer, objective_history)
    if cycle is None:
        for group in dashboard.groups:
            group.rows = [KeyResultRow(group=group.node, person=p, kr=None) for p in group.people]
        dashboard.rows_loaded = True
        _roll_up(dashboard)
        return dashboard

    dashboard.expected = cycle.expected_progress(today)
    dashboard.context.team_objectives = list(
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .filter(level=Level.TEAM, team_id__in=scope_ids)
        .select_related("owner__user", "team")
    )
    if rows:
        load_rows(dashboard)
    else:
        dashboard.summary = _summary_rows(org, viewer, dashboard, missed=sort == "missed")
        _roll_up(dashboard)
    return dashboard


@dataclass
class _BoardContext:
    """What ``team_dashboard`` leaves for ``load_rows`` / ``load_objectives``."""

    org: Organization
    viewer: Membership
    objective_history: bool
    team_objectives: list[Objective] = field(default_factory=list)


def _person_name(person: Membership):
    return (person.user.full_name.lower() or person.user.email, person.pk)


def _dashboard_key_results(dashboard: TeamDashboard):
    ctx = dashboard.context
    return (
        KeyResult.objects.for_org(ctx.org)
        .in_cycle(dashboard.cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
    )


def load_rows(dashboard: TeamDashboard) -> None:
    """Every person x key result line with its figures, and the team objectives' figures
    (two queries: the key results, their check-ins)."""
    ctx, cycle, expected, today = (
        dashboard.context,
        dashboard.cycle,
        dashboard.expected,
        dashboard.today,
    )
    org, viewer = ctx.org, ctx.viewer
    team_objectives = ctx.team_objectives
    people = {p.pk: p for p in dashboard.people}
    krs = (
        _dashboard_key_results(dashboard)
        .filter(Q(owner_id__in=list(people)) | Q(objective_id__in=[o.pk for o in team_objectives]))
        # can_read_objective reads a private objective's owner (their manager may read it).
        # Nothing here reads the objective's team nor its long texts: reading them only
        # cost time on every one of the hundreds of rows.
        .select_related("objective__owner")
        .defer("objective__description", "objective__why_it_matters", "objective__mission_link")
        .order_by("objective__level", "objective__title", "objective_id", "position", "id")
    )
    with custom_plans():
        krs = list(krs)
    facts = checkin_facts(org, [kr.pk for kr in krs])

    this_week = week_start(today)
    open_weeks = [w for w in weeks_of(cycle) if w < this_week]
    ack_since = this_week - timedelta(weeks=ACK_WEEKS - 1)
    readable = _readable_cache(viewer)

    by_owner: dict[int, list[KeyResult]] = defaultdict(list)
    for kr in krs:
        kr.organization = kr.objective.organization = org
        by_owner[kr.owner_id].append(kr)
    for group in dashboard.groups:
        group.rows = []
        for person in group.people:
            mine = by_owner.get(person.pk, [])
            if not mine:
                group.rows.append(KeyResultRow(group=group.node, person=person, kr=None))
            for kr in mine:
                row = _row(
                    group.node,
                    person,
                    kr,
                    facts.get(kr.pk, []),
                    viewer,
                    readable(kr.objective),
                    expected=expected,
                    open_weeks=open_weeks,
                    ack_since=ack_since,
                )
                group.rows.append(row)
    dashboard.rows_loaded = True
    _objective_figures(dashboard, krs, facts, readable)
    _roll_up(dashboard)


def load_objectives(dashboard: TeamDashboard) -> None:
    """The team objectives' figures alone, for the collapsed view (the objectives' key
    results, and their check-ins when the weekly history is wanted: one or two queries)."""
    ctx = dashboard.context
    if dashboard.cycle is None:
        return
    krs = []
    if ctx.team_objectives:
        with custom_plans():
            krs = list(
                _dashboard_key_results(dashboard)
                .filter(objective_id__in=[o.pk for o in ctx.team_objectives])
                .order_by("objective_id", "position", "id")
            )
    facts = {}
    if ctx.objective_history and krs:
        facts = checkin_facts(ctx.org, [kr.pk for kr in krs])
    _objective_figures(dashboard, krs, facts, _readable_cache(ctx.viewer))
    _roll_up(dashboard)


def _readable_cache(viewer: Membership):
    cached: dict[int, bool] = {}

    def readable(objective: Objective) -> bool:
        if objective.pk not in cached:
            cached[objective.pk] = permissions.can_read_objective(viewer, objective)
        return cached[objective.pk]

    return readable


def _objective_figures(dashboard: TeamDashboard, krs, facts, readable) -> None:
    ctx, cycle, expected = dashboard.context, dashboard.cycle, dashboard.expected
    groups = {g.team.pk: g for g in dashboard.groups}
    krs_by_objective: dict[int, list[KeyResult]] = defaultdict(list)
    for kr in krs:
        krs_by_objective[kr.objective_id].append(kr)
    for group in dashboard.groups:
        group.objectives = []
    for objective in ctx.team_objectives:
        objective.organization = ctx.org
        mine = krs_by_objective.get(objective.pk, [])
        is_readable = readable(objective)
        progress = status = None
        history: list = []
        if is_readable and mine:
            progress = scoring.objective_progress((kr.progress, kr.weight) for kr in mine)
            status = scoring.status(progress, expected)
            if ctx.objective_history:
                history = progress_history(mine, facts, cycle=cycle, today=dashboard.today)
        groups[objective.team_id].objectives.append(
            ObjectiveFigures(
                objective=objective,
                readable=is_readable,
                progress=progress,
                status=status,
                history=history,
                forecast=forecast(history, cycle) if history else None,
                key_result_count=len(mine),
            )
        )
    for group in dashboard.groups:
        group.objectives.sort(
            key=lambda f: (not f.readable, f.objective.title.lower() if f.readable else "")
        )


# --- The people summarised in SQL (the collapsed view) ------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    """Key results of one person that share an objective, readability, status and
    need-help flag, counted in SQL: what a filter and a sort need of them."""

    owner_id: int
    objective_id: int
    objective_level: int
    objective_title: str
    readable: bool
    status: scoring.Status
    need_help: bool
    count: int
    unacknowledged: int
    lowest: Decimal  # capped progress
    highest: Decimal
    confidence: int | None  # lowest confidence of the latest check-ins
    unchecked: int  # key results without a check-in
    first_checkin: date | None  # earliest latest check-in week
    missed: int | None  # most weeks missed (only asked for when sorting by it)


def _summary_rows(
    org: Organization, viewer: Membership, dashboard: TeamDashboard, *, missed: bool
) -> list[SummaryRow]:
    """The people's key results counted per (person, objective, readable, status,
    need-help) in one query, with the figures of ``_row`` in SQL: status from the capped
    stored progress against expected progress (exact thresholds, as ``scoring.status``),
    need-help and confidence from the latest check-in, check-ins waiting since the
    acknowledgement window, and (``missed``) weeks missed."""
    cycle, expected = dashboard.cycle, dashboard.expected
    this_week = week_start(dashboard.today)
    ack_since = this_week - timedelta(weeks=ACK_WEEKS - 1)
    decimal = DecimalField(max_digits=30, decimal_places=20)
    capped_sql = Least(
        Greatest(F("progress"), Value(Decimal(0), output_field=decimal)),
        Value(Decimal(1), output_field=decimal),
    )
    expected_d = scoring.capped(expected)
    if expected_d == 0:
        status = Value(scoring.Status.ON_TRACK.value)
    else:
        with localcontext(prec=60):
            on_track = scoring.ON_TRACK_RATIO * expected_d
            at_risk = scoring.AT_RISK_RATIO * expected_d
        status = Case(
            When(
                GreaterThanOrEqual(capped_sql, Value(on_track, output_field=decimal)),
                then=Value(scoring.Status.ON_TRACK.value),
            ),
            When(
                GreaterThanOrEqual(capped_sql, Value(at_risk, output_field=decimal)),
                then=Value(scoring.Status.AT_RISK.value),
            ),
            default=Value(scoring.Status.BEHIND.value),
            output_field=CharField(),
        )
    checkins = CheckIn.objects.for_org(org).filter(key_result=OuterRef("pk"))
    latest = checkins.order_by("-week", "-id")
    readable_q = readable_objectives_q(viewer, "objective__")
    readable = (
        Value(True)
        if readable_q is None
        else Case(When(readable_q, then=Value(True)), default=Value(False))
    )
    waiting = (
        checkins.filter(week__gte=ack_since, acknowledgement__isnull=True)
        .order_by()
        .values("key_result_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    krs = (
        _dashboard_key_results(dashboard)
        .filter(owner_id__in=[p.pk for p in dashboard.people])
        .annotate(
            is_readable=ExpressionWrapper(readable, output_field=BooleanField()),
            track=status,
            help=Coalesce(
                Subquery(latest.values("need_help")[:1]), Value(False), output_field=BooleanField()
            ),
        )
        .alias(
            last_confidence=Subquery(latest.values("confidence")[:1]),
            last_week=Subquery(latest.values("week")[:1]),
            waiting=Coalesce(Subquery(waiting), Value(0)),
            capped=capped_sql,
        )
    )
    aggregates = {
        "n": Count("id"),
        "unack": Sum("waiting"),
        "low": Min("capped"),
        "high": Max("capped"),
        "conf": Min("last_confidence"),
        "unchecked": Count("id", filter=Q(last_week__isnull=True)),
        "first": Min("last_week"),
    }
    if missed:
        open_weeks = [w for w in weeks_of(cycle) if w < this_week]
        zone = org.zoneinfo

        def weeks_from(condition) -> Func:
            total = Value(0)
            for w in open_weeks:
                total = total + Case(When(condition(w), then=Value(1)), default=Value(0))
            return total

        # A week is counted from the key result's first week: that of its creation (in the
        # organisation's time zone) or of its first check-in, whichever is earlier. Both
        # count the open weeks from some week on, so the union is the larger count.
        since_created = weeks_from(
            lambda w: Q(created_at__lt=datetime.combine(w + timedelta(days=7), time(), tzinfo=zone))
        )
        since_first_checkin = (
            checkins.order_by()
            .values("key_result_id")
            .annotate(n=weeks_from(lambda w: LessThanOrEqual(Min("week"), w)))
            .values("n")
        )
        checked = (
            checkins.filter(week__in=open_weeks)
            .order_by()
            .values("key_result_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        counted = Greatest(
            since_created,
            Coalesce(Subquery(since_first_checkin), Value(0)),
            output_field=IntegerField(),
        )
        krs = krs.alias(
            weeks_missed=ExpressionWrapper(
                counted - Coalesce(Subquery(checked), Value(0)), output_field=IntegerField()
            )
        )
        aggregates["most_missed"] = Max("weeks_missed")
    rows = (
        krs.order_by()
        .values(
            "owner_id",
            "objective_id",
            "objective__level",
            "objective__title",
            "is_readable",
            "track",
            "help",
        )
        .annotate(**aggregates)
    )
    summary = []
    with custom_plans():
        rows = list(rows)
    for row in rows:
        summary.append(
            SummaryRow(
                owner_id=row["owner_id"],
                objective_id=row["objective_id"],
                objective_level=row["objective__level"],
                objective_title=row["objective__title"],
                readable=bool(row["is_readable"]),
                status=scoring.Status(row["track"]),
                need_help=bool(row["help"]),
                count=row["n"],
                unacknowledged=row["unack"] or 0,
                lowest=row["low"],
                highest=row["high"],
                confidence=row["conf"],
                unchecked=row["unchecked"],
                first_checkin=row["first"],
                missed=row.get("most_missed"),
            )
        )
    return summary


@dataclass
class PersonSummary:
    """A person's collapsed line counted from ``SummaryRow``s (what ``PersonLine`` says of
    their shown rows, without the rows)."""

    person: Membership
    key_results: int = 0
    worst: scoring.Status | None = None
    need_help: int = 0
    unacknowledged: int = 0
    lines: int = 0
    rank: tuple = ()

    @property
    def worst_label(self) -> str:
        return STATUS_LABELS[self.worst] if self.worst else ""


def _summary_matches(item: SummaryRow, filters: Filters) -> bool:
    if not (filters.status or filters.objective or filters.need_help):
        return True
    if not item.readable:
        return False
    if filters.status and item.status.value != filters.status:
        return False
    if filters.objective and item.objective_id != filters.objective:
        return False
    return not (filters.need_help and not item.need_help)


def _summary_first(item: SummaryRow | None, sort: str):
    """``_sort_key``'s first figure for the best row of ``item`` (None: no key result)."""
    blank = item is None or not item.readable
    if sort in ("progress", "-progress"):
        if blank:
            return _LAST
        return item.lowest if sort == "progress" else -item.highest
    if sort == "status":
        return 9 if blank else STATUS_RANK[item.status]
    if sort == "confidence":
        return 99 if blank or item.confidence is None else item.confidence
    if sort == "checkin":
        if blank:
            return 10**7
        return 0 if item.unchecked else item.first_checkin.toordinal()
    if sort == "missed":
        return 0 if blank else -(item.missed or 0)
    return 0


def summarise(dashboard: TeamDashboard, filters: Filters) -> int:
    """Fill each group's ``shown_people`` with ``PersonSummary`` lines under ``filters``
    (no query), in the order ``apply_filters`` would list their rows; returns the number
    of lines ``apply_filters`` would show."""
    by_owner: dict[int, list[SummaryRow]] = defaultdict(list)
    for item in dashboard.summary:
        by_owner[item.owner_id].append(item)
    others = bool(filters.status or filters.objective or filters.need_help)
    total = 0
    for group in dashboard.groups:
        lines = []
        for person in group.people:
            if filters.person and person.pk != filters.person:
                continue
            mine = by_owner.get(person.pk, [])
            line = PersonSummary(person)
            if not mine:
                if others:
                    continue
                line.lines = 1
                line.rank = (True, _summary_first(None, filters.sort))
            else:
                shown = [item for item in mine if _summary_matches(item, filters)]
                if not shown:
                    continue
                line.key_results = line.lines = sum(item.count for item in shown)
                figures = [item for item in shown if item.readable]
                if figures:
                    line.worst = min((i.status for i in figures), key=STATUS_RANK.__getitem__)
                line.need_help = sum(i.count for i in figures if i.need_help)
                line.unacknowledged = sum(i.unacknowledged for i in figures)
                line.rank = min(
                    (not item.readable, _summary_first(item, filters.sort)) for item in shown
                )
            lines.append(line)
        if filters.sort != "person":
            lines.sort(key=lambda line: (line.rank, _person_name(line.person)))
        group.shown_people = lines
        group.shown = lines  # what the table tests: whether the group shows at all
        total += sum(line.lines for line in lines)
    return total


def _row(
    group: TeamNode,
    person: Membership,
    kr: KeyResult,
    facts: list[CheckInFact],
    viewer: Membership,
    readable: bool,
    *,
    expected: Decimal,
    open_weeks: list[date],
    ack_since: date,
) -> KeyResultRow:
    row = KeyResultRow(group=group, person=person, kr=kr, readable=readable)
    if not readable:
        return row
    row.progress = kr.progress
    row.expected = expected
    row.status = scoring.status(kr.progress, expected)
    if facts:
        latest = facts[-1]
        row.last_checkin = latest
        row.confidence = latest.confidence
        row.need_help = latest.need_help
        if len(facts) > 1:
            row.confidence_change = latest.confidence - facts[-2].confidence
    created = timezone.localtime(kr.created_at, kr.organization.zoneinfo).date()
    first_week = week_start(min([created, *(f.week for f in facts)]))
    counted = [w for w in open_weeks if w >= first_week]
    checked = {f.week for f in facts}
    row.weeks_counted = len(counted)
    row.weeks_missed = sum(1 for w in counted if w not in checked)
    waiting = [f for f in facts if f.week >= ack_since and not f.acknowledged]
    row.unacknowledged = len(waiting)
    if waiting and _may_acknowledge(viewer, person):
        row.acknowledge = waiting[-1]
    return row


def _may_acknowledge(viewer: Membership, person: Membership) -> bool:
    """``checkins.services.manages`` without a query per person: their teams only matter
    when the viewer leads a team (and then they were read for everyone at once)."""
    if person.pk == viewer.pk:
        return False
    if viewer.is_admin or person.manager_id == viewer.pk:
        return True
    return bool(viewer.managed_team_ids) and manages(viewer, person)


def _roll_up(dashboard: TeamDashboard) -> None:
    """Per group: status counts, need-help and waiting check-ins, and the mean progress of
    the readable team objectives, over the group's team and every team below it."""
    by_team = {g.team.pk: g for g in dashboard.groups}
    # (status, need help, waiting check-ins, key results) of each readable line or lines.
    figures: dict[int, list[tuple[scoring.Status | None, int, int, int]]] = defaultdict(list)
    if dashboard.rows_loaded:
        for group in dashboard.groups:
            for row in group.rows:
                figures[group.team.pk].append(
                    (row.status, int(row.need_help), row.unacknowledged, 1)
                )
    elif dashboard.summary is not None:
        home = {p.pk: g.team.pk for g in dashboard.groups for p in g.people}
        for item in dashboard.summary:
            if item.readable:
                figures[home[item.owner_id]].append(
                    (item.status, item.count * item.need_help, item.unacknowledged, item.count)
                )
    for group in dashboard.groups:
        inside = [by_team[n.team.pk] for n in group.node.walk() if n.team.pk in by_team]
        lines = [f for g in inside for f in figures[g.team.pk]]
        objectives = [f for g in inside for f in g.objectives]
        group.counts = {s.value: 0 for s in scoring.Status}
        for status, _help, _waiting, count in lines:
            if status:
                group.counts[status.value] += count
        group.need_help = sum(f[1] for f in lines)
        group.unacknowledged = sum(f[2] for f in lines)
        group.rollup_people = sum(len(g.people) for g in inside)
        measured = [f.progress for f in objectives if f.readable and f.progress is not None]
        group.rollup_objectives = len(measured)
        group.rollup_hidden = sum(1 for f in objectives if not f.readable)
        if measured:
            group.rollup_progress = scoring.objective_progress(measured)


# --- Filters and sorting ------------------------------------------------------------------------

SORTS = {
    "person": gettext_lazy("Person"),
    "progress": gettext_lazy("Progress, lowest first"),
    "-progress": gettext_lazy("Progress, highest first"),
    "status": gettext_lazy("Status, behind first"),
    "confidence": gettext_lazy("Confidence, lowest first"),
    "checkin": gettext_lazy("Last check-in, oldest first"),
    "missed": gettext_lazy("Weeks missed, most first"),
}


@dataclass
class Filters:
    status: str = ""
    person: int | None = None
    objective: int | None = None
    need_help: bool = False
    sort: str = "person"
    notices: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.status or self.person or self.objective or self.need_help)

    def params(self, **overrides) -> dict[str, str]:
        """The clean query parameters (for links, the CSV export and ``next``)."""
        values = {
            "status": self.status,
            "person": self.person or "",
            "objective": self.objective or "",
            "need_help": "1" if self.need_help else "",
            "sort": "" if self.sort == "person" else self.sort,
        }
        values.update(overrides)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}


def parse_filters(query, dashboard: TeamDashboard) -> Filters:
    """Read the GET parameters; anything unknown is dropped with a notice, never an error."""
    filters = Filters()
    status = query.get("status", "")
    if status:
        if status in {s.value for s in scoring.Status}:
            filters.status = status
        else:
            filters.notices.append(
                _("“%(value)s” is not a status; showing every status.") % {"value": status[:40]}
            )
    person = query.get("person", "")
    if person:
        person_ids = {p.pk for p in dashboard.people}
        if person.isdigit() and int(person) in person_ids:
            filters.person = int(person)
        else:
            filters.notices.append(_("That person is not on this team; showing everyone."))
    objective = query.get("objective", "")
    if objective:
        objective_ids = {o.pk for o in dashboard.objective_choices}
        if objective.isdigit() and int(objective) in objective_ids:
            filters.objective = int(objective)
        else:
            filters.notices.append(
                _("That objective has no key results on this team; showing every objective.")
            )
    need_help = query.get("need_help", "")
    if need_help:
        if need_help in ("1", "on", "true", "yes"):
            filters.need_help = True
        elif need_help not in ("0", "off", "false", "no"):
            filters.notices.append(_("“Needs help” takes 1 or 0; showing every key result."))
    sort = query.get("sort", "")
    if sort:
        if sort in SORTS:
            filters.sort = sort
        else:
            filters.notices.append(
                _("“%(value)s” is not a way to sort; sorted by person.") % {"value": sort[:40]}
            )
    return filters


def _matches(row: KeyResultRow, filters: Filters) -> bool:
    if filters.person and row.person.pk != filters.person:
        return False
    if not (filters.status or filters.objective or filters.need_help):
        return True
    if row.kr is None or not row.readable:
        return False  # a blanked row reveals nothing, not even that it matches
    if filters.status and (row.status is None or row.status.value != filters.status):
        return False
    if filters.objective and row.kr.objective_id != filters.objective:
        return False
    return not (filters.need_help and not row.need_help)


_LAST = Decimal(10**9)


def _sort_key(sort: str):
    def key(row: KeyResultRow):
        blank = row.kr is None or not row.readable  # blanked and empty rows go last
        name = (row.person.user.full_name.lower() or row.person.user.email, row.person.pk)
        position = (
            (row.kr.objective.level, row.kr.objective.title.lower(), row.kr.position, row.kr.pk)
            if row.kr is not None and row.readable
            else (9, "", 0, row.kr.pk if row.kr else 0)
        )
        if sort == "progress":
            first = row.capped if row.capped is not None else _LAST
        elif sort == "-progress":
            first = -row.capped if row.capped is not None else _LAST
        elif sort == "status":
            first = STATUS_RANK.get(row.status, 9)
        elif sort == "confidence":
            first = row.confidence if row.confidence is not None else 99
        elif sort == "checkin":
            first = row.last_checkin.week.toordinal() if row.last_checkin else 0
            if blank:
                first = 10**7
        elif sort == "missed":
            first = -(row.weeks_missed or 0)
        else:
            return (name, blank, position)
        return (blank, first, name, position)

    return key


def apply_filters(dashboard: TeamDashboard, filters: Filters) -> list[KeyResultRow]:
    """Fill each group's ``shown`` rows and ``shown_people``; returns the rows, in order."""
    shown = []
    key = _sort_key(filters.sort)
    for group in dashboard.groups:
        group.shown = sorted((r for r in group.rows if _matches(r, filters)), key=key)
        group.shown_people = person_lines(group.shown)
        shown.extend(group.shown)
    return shown


#: Up to this many lines the dashboard lists every key result; beyond it, one collapsed
#: line per person whose key results load when opened (a 60-person team has ~300).
EXPANDED_ROWS = 60


@dataclass
class PersonLine:
    """One person's summary on a large dashboard: their shown key results, counted."""

    person: Membership
    rows: list[KeyResultRow]

    @property
    def key_results(self) -> int:
        return sum(1 for r in self.rows if r.kr is not None)

    @property
    def worst(self) -> scoring.Status | None:
        statuses = [r.status for r in self.rows if r.status is not None]
        return min(statuses, key=STATUS_RANK.__getitem__) if statuses else None

    @property
    def worst_label(self) -> str:
        return STATUS_LABELS[self.worst] if self.worst else ""

    @property
    def need_help(self) -> int:
        return sum(1 for r in self.rows if r.need_help)

    @property
    def unacknowledged(self) -> int:
        return sum(r.unacknowledged for r in self.rows)


def person_lines(rows: list[KeyResultRow]) -> list[PersonLine]:
    """``rows`` by person, people in the order of their first row (so a sort by progress
    or status puts first the person with the row that sorts first). Only readable rows
    carry figures, so a summary says nothing about private key results but that they are
    there."""
    lines: dict[int, PersonLine] = {}
    for row in rows:
        lines.setdefault(row.person.pk, PersonLine(row.person, [])).rows.append(row)
    return list(lines.values())


# --- Company view ------------------------------------------------------------------------------


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
    kr: KeyResult
    before: Decimal
    after: Decimal

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


#: Key results ranked in SQL before the exact figures are worked out for the top ones: a
#: margin for SQL's and Python's rounding to disagree at the edge of the top five.
MOVER_CANDIDATES = 4 * MOVERS


def _movers(org: Organization, viewer: Membership, cycle: Cycle, week: date) -> list[Mover]:
    """Key results whose progress moved most between last week's and this week's check-ins
    (one query: SQL ranks every key result on a join of the two weeks, and only the top
    few rows are read and worked out exactly)."""
    krs = (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .annotate(
            this_week=FilteredRelation("checkins", condition=Q(checkins__week=week)),
            last_week=FilteredRelation(
                "checkins", condition=Q(checkins__week=week - timedelta(weeks=1))
            ),
        )
        .filter(this_week__isnull=False, last_week__isnull=False)
    )
    readable = readable_objectives_q(viewer, "objective__")
    # Private objectives the viewer may not read are left out: a change is content.
    if readable is not None:
        krs = krs.filter(readable)
    rows = (
        krs.annotate(
            after=F("this_week__value"),
            before=F("last_week__value"),
            change=capped_progress_sql(F("this_week__value"), "")
            - capped_progress_sql(F("last_week__value"), ""),
        )
        .filter(change__isnull=False)
        .exclude(change=0)
        .annotate(size=Abs("change"))
        .select_related("objective", "owner__user")
        .order_by("-size", Lower("title"), "id")[:MOVER_CANDIDATES]
    )
    movers = []
    for kr in rows:
        before, after = progress_at(kr, kr.before), progress_at(kr, kr.after)
        if before is None or after is None:
            continue
        mover = Mover(kr=kr, before=before, after=after)
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
        objective = item.objective or (item.key_result.objective if item.key_result else None)
        item.subject = None
        item.subject_hidden = False
        if objective is None:
            continue
        if permissions.can_read_objective(viewer, objective):
            item.subject = item.key_result or item.objective
            item.subject.organization = org
        else:
            item.subject_hidden = True
    return items


# --- Cadence health ------------------------------------------------------------------------------


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
