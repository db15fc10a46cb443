"""A team's dashboard: its people x key results with their figures, grouped by team, and
its objectives' progress rolled up (see the package's definitions)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
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
from django.db.models.functions import (
    Coalesce,
    Greatest,
    Least,
)
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from checkins.dashboards.progress import (
    CheckInFact,
    checkin_facts,
    forecast,
    progress_history,
)
from checkins.dashboards.teams import TeamNode, readable_objectives_q
from checkins.models import CheckIn, week_start
from checkins.selectors import weeks_of
from checkins.services import manages
from cycles import permissions, scoring
from cycles.models import (
    Cycle,
    KeyResult,
    Level,
    Objective,
    ObjectiveStatus,
)
from cycles.views.common import STATUS_LABELS
from okrapp.db import custom_plans
from okrapp.models import Membership, Organization, Team, TeamMembership

#: Check-ins older than this many weeks (this one included) no longer wait for a manager.
ACK_WEEKS = 4

#: Order of statuses when sorting "worst first".
STATUS_RANK = {scoring.Status.BEHIND: 0, scoring.Status.AT_RISK: 1, scoring.Status.ON_TRACK: 2}


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
