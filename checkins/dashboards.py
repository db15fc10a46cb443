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
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Abs, Cast, Greatest, Least, Lower, NullIf
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
from cycles.views.common import STATUS_LABELS, prime_team_ids, set_track
from okrapp import cache as page_cache
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
    shown: list[KeyResultRow] = field(default_factory=list)  # after filters and sort
    shown_people: list = field(default_factory=list)  # PersonLine of ``shown``

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

    @property
    def rows(self) -> list[KeyResultRow]:
        return [row for group in self.groups for row in group.rows]

    @property
    def top(self) -> TeamGroup:
        return self.groups[0]

    @property
    def objective_choices(self) -> list[Objective]:
        seen: dict[int, Objective] = {}
        for row in self.rows:
            if row.kr is not None and row.readable:
                seen.setdefault(row.kr.objective_id, row.kr.objective)
        return sorted(seen.values(), key=lambda o: (o.level, o.title.lower()))


def team_dashboard(
    org: Organization,
    viewer: Membership,
    node: TeamNode,
    cycle: Cycle | None,
    *,
    today: date | None = None,
    objective_history: bool = True,
) -> TeamDashboard:
    """The dashboard of ``node``'s team for ``cycle``: four queries, and up to three more
    to know which private objectives and check-ins a team lead may read and acknowledge.

    ``objective_history=False`` leaves out the team objectives' weekly history and
    forecast (their progress and status stay): for a caller that has them drawn already."""
    scope = list(node.walk())
    scope_ids = [n.team.pk for n in scope]
    memberships = list(
        TeamMembership.objects.for_org(org)
        .filter(team_id__in=scope_ids, membership__active=True, membership__user__is_active=True)
        .select_related("membership__user")
        .order_by("membership__user__full_name", "membership__user__email", "membership_id")
    )
    order = {team_id: i for i, team_id in enumerate(scope_ids)}
    home: dict[int, int] = {}  # person → the first team of the tree they are on
    people: dict[int, Membership] = {}
    for tm in sorted(memberships, key=lambda tm: order[tm.team_id]):
        if tm.membership_id not in home:
            home[tm.membership_id] = tm.team_id
            person = tm.membership
            person.organization = org
            people[person.pk] = person
    people_sorted = sorted(
        people.values(), key=lambda p: (p.user.full_name.lower() or p.user.email, p.pk)
    )
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
    if cycle is None:
        for group in dashboard.groups:
            group.rows = [KeyResultRow(group=group.node, person=p, kr=None) for p in group.people]
        _roll_up(dashboard)
        return dashboard

    expected = cycle.expected_progress(today)
    dashboard.expected = expected
    team_objectives = list(
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .filter(level=Level.TEAM, team_id__in=scope_ids)
        .select_related("owner__user", "team")
    )
    krs = list(
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .filter(Q(owner_id__in=list(people)) | Q(objective_id__in=[o.pk for o in team_objectives]))
        # can_read_objective reads a private objective's owner (their manager may read it).
        # Nothing here reads the objective's team nor its long texts: reading them only
        # cost time on every one of the hundreds of rows.
        .select_related("objective__owner")
        .defer("objective__description", "objective__why_it_matters", "objective__mission_link")
        .order_by("objective__level", "objective__title", "objective_id", "position", "id")
    )
    facts = checkin_facts(org, [kr.pk for kr in krs])
    if not viewer.is_admin and viewer.managed_team_ids:
        prime_team_ids(org, people.values())  # who the viewer may acknowledge for

    this_week = week_start(today)
    open_weeks = [w for w in weeks_of(cycle) if w < this_week]
    ack_since = this_week - timedelta(weeks=ACK_WEEKS - 1)
    readable_cache: dict[int, bool] = {}

    def readable(objective: Objective) -> bool:
        if objective.pk not in readable_cache:
            readable_cache[objective.pk] = permissions.can_read_objective(viewer, objective)
        return readable_cache[objective.pk]

    by_owner: dict[int, list[KeyResult]] = defaultdict(list)
    for kr in krs:
        kr.organization = kr.objective.organization = org
        by_owner[kr.owner_id].append(kr)
    for group in dashboard.groups:
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
    krs_by_objective: dict[int, list[KeyResult]] = defaultdict(list)
    for kr in krs:
        krs_by_objective[kr.objective_id].append(kr)
    for objective in team_objectives:
        objective.organization = org
        mine = krs_by_objective.get(objective.pk, [])
        is_readable = readable(objective)
        progress = status = None
        history: list = []
        if is_readable and mine:
            progress = scoring.objective_progress((kr.progress, kr.weight) for kr in mine)
            status = scoring.status(progress, expected)
            if objective_history:
                history = progress_history(mine, facts, cycle=cycle, today=today)
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
    _roll_up(dashboard)
    return dashboard


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
    for group in dashboard.groups:
        inside = [by_team[n.team.pk] for n in group.node.walk() if n.team.pk in by_team]
        rows = [r for g in inside for r in g.rows]
        objectives = [f for g in inside for f in g.objectives]
        group.counts = {s.value: 0 for s in scoring.Status}
        for row in rows:
            if row.status:
                group.counts[row.status.value] += 1
        group.need_help = sum(1 for r in rows if r.need_help)
        group.unacknowledged = sum(r.unacknowledged for r in rows)
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
    """Key results of the cycle checked in this week and last week, of all (one query)."""

    def checked(on: date):
        return Exists(CheckIn.objects.for_org(org).filter(key_result=OuterRef("pk"), week=on))

    counts = (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .aggregate(
            total=Count("id"),
            now=Count("id", filter=checked(week)),
            before=Count("id", filter=checked(week - timedelta(weeks=1))),
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
