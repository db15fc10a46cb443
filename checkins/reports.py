"""The end-of-quarter report: its figures, computed in bulk, and the request to build one.

Two steps, so that every viewer's edition comes from the same stored facts:

* :func:`collect` reads one cycle's facts in a fixed number of queries (eight, however large
  the organisation): teams, people, objectives, key results with their scores, and the
  cycle's check-ins aggregated in SQL (per key result, and per objective and week). The
  result is plain JSON, stored next to the report's files.
* :func:`summarize` turns the facts into the figures one viewer may see: the whole
  organisation for admins (and the stored edition), only their teams and people for
  managers, with the titles of private objectives they may not read left blank.

Definitions (DESIGN.md, "Scoring rules"):

* A key result counts for the team of its objective. An individual objective without a
  team counts for its owner's first team (lowest id); company objectives count for no
  team (they are the company view).
* Unscored key results are counted as unscored, never as 0: averages, shares and bands
  are over scored key results only.
* Expectation met: a committed key result scored 1.0, an aspirational one scored ≥ 0.7
  (``cycles.scoring.met_expectation``).
* Check-in rate: check-ins in the cycle's weeks / (key results x weeks), counting the weeks
  that have begun (all of them once the cycle has ended). A team's streak is its longest
  run of consecutive weeks in which every one of its key results was checked in.
* Carry-over candidates: key results of committed objectives that are unfinished (capped
  progress below 1) or scored below 0.7.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from checkins.models import CheckIn, Report, ReportStage, ReportStatus
from checkins.selectors import weeks_of
from cycles import permissions, scoring
from cycles.models import (
    Cycle,
    CyclePilotTeam,
    CycleState,
    KeyResult,
    Level,
    Objective,
    ObjectiveStatus,
    ObjectiveType,
    ReasonCode,
    Visibility,
)
from okrapp.models import Membership, Organization, Team, TeamMembership

FACTS_VERSION = 1
REPORTABLE_STATES = (CycleState.SCORING, CycleState.CLOSED)
#: A request finding the report still queued this long after the last one enqueues again
#: (the message may have been lost with a broker); a fresher queued request is the same one.
REQUEUE_AFTER = timedelta(minutes=10)

_TWO = Decimal("0.01")
_SHARE = Decimal("0.0001")
_BUCKETS = [Decimal(n) / 10 for n in range(11)]


# --- Facts: what the database holds, in a fixed number of queries -----------------------------


def collect(org: Organization, cycle: Cycle) -> dict:
    """Every fact the report needs about ``cycle``, as JSON-ready data (eight queries)."""
    # Weeks that have begun: a cycle closed early is not charged for weeks still to come.
    today = timezone.localtime(timezone.now(), org.zoneinfo).date()
    weeks = [w for w in weeks_of(cycle) if w <= today] or weeks_of(cycle)[:1]
    week_index = {week: i for i, week in enumerate(weeks)}

    teams = list(Team.objects.for_org(org).order_by("name").values_list("id", "name", "slug"))
    pilot_ids = set()
    if cycle.is_pilot:
        pilot_ids = set(
            CyclePilotTeam.objects.for_org(org)
            .filter(cycle=cycle)
            .values_list("team_id", flat=True)
        )

    # A person's teams, lowest id first: an individual objective without a team counts for
    # its owner's first team.
    team_ids_of: dict[int, list[int]] = defaultdict(list)
    for person_id, team_id in (
        TeamMembership.objects.for_org(org)
        .order_by("team_id")
        .values_list("membership_id", "team_id")
        .iterator()
    ):
        team_ids_of[person_id].append(team_id)

    people = [
        {"id": pk, "name": full_name or email, "manager_id": manager_id}
        for pk, full_name, email, manager_id in Membership.objects.for_org(org)
        .order_by("id")
        .values_list("id", "user__full_name", "user__email", "manager_id")
        .iterator()
    ]

    objectives = []
    team_of_objective: dict[int, int | None] = {}
    for pk, title, level, team_id, owner_id, type_, visibility in (
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .order_by("level", "title", "id")
        .values_list("id", "title", "level", "team_id", "owner_id", "type", "visibility")
        .iterator()
    ):
        if level == Level.COMPANY:
            counted_for = None
        elif team_id is not None:
            counted_for = team_id
        else:
            owner_teams = team_ids_of.get(owner_id)
            counted_for = owner_teams[0] if owner_teams else None
        team_of_objective[pk] = counted_for
        objectives.append(
            {
                "id": pk,
                "title": title,
                "level": level,
                "team_id": team_id,
                "counted_for": counted_for,
                "owner_id": owner_id,
                "type": type_,
                "private": visibility == "private",
            }
        )

    in_weeks = {"week__gte": weeks[0], "week__lte": weeks[-1]}
    checkins = CheckIn.objects.for_org(org).filter(key_result__objective__cycle=cycle, **in_weeks)
    per_kr = dict(
        checkins.order_by()
        .values("key_result_id")
        .annotate(n=Count("id"))
        .values_list("key_result_id", "n")
        .iterator()
    )
    cadence: dict[str, list[int]] = {}
    for objective_id, week, n in (
        checkins.order_by()
        .values("key_result__objective_id", "week")
        .annotate(n=Count("id"))
        .values_list("key_result__objective_id", "week", "n")
        .iterator()
    ):
        if objective_id not in team_of_objective or week not in week_index:
            continue  # archived objective
        key = str(team_of_objective[objective_id] or 0)
        counts = cadence.setdefault(key, [0] * len(weeks))
        counts[week_index[week]] += n

    krs = []
    for row in (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .order_by("objective__level", "objective__title", "objective_id", "position", "id")
        .values_list(
            "id",
            "title",
            "objective_id",
            "owner_id",
            "weight",
            "progress",
            "score__score",
            "score__reason",
            "score__what_worked",
            "score__what_to_change",
        )
        .iterator()
    ):
        pk, title, objective_id, owner_id, weight, progress, score, reason, worked, change = row
        krs.append(
            {
                "id": pk,
                "title": title,
                "objective_id": objective_id,
                "owner_id": owner_id,
                "team_id": team_of_objective.get(objective_id),
                "weight": str(weight),
                "progress": str(scoring.capped(progress)),
                "score": None if score is None else str(score),
                "reason": reason or "",
                "what_worked": worked or "",
                "what_to_change": change or "",
                "checkins": per_kr.get(pk, 0),
            }
        )

    return {
        "version": FACTS_VERSION,
        "org": {"id": org.pk, "name": org.name, "slug": org.slug},
        "cycle": {
            "id": cycle.pk,
            "name": cycle.name,
            "start": cycle.start_date.isoformat(),
            "end": cycle.end_date.isoformat(),
            "state": cycle.state,
            "is_pilot": cycle.is_pilot,
        },
        "collected_at": timezone.now().isoformat(),
        "weeks": [w.isoformat() for w in weeks],
        "teams": [
            {"id": pk, "name": name, "slug": slug, "pilot": pk in pilot_ids}
            for pk, name, slug in teams
        ],
        "people": people,
        "objectives": objectives,
        "krs": krs,
        "cadence": cadence,
    }


# --- Who sees what ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What one edition of the report covers.

    ``team_ids`` / ``person_ids`` of None mean everything (admins, the stored edition). A
    manager's scope is the teams they lead (and those below) and the people on them, their
    direct reports and themselves. ``viewer`` decides which private objectives are readable
    (None: all of them).
    """

    viewer: Membership | None = None
    team_ids: frozenset[int] | None = None
    person_ids: frozenset[int] | None = None

    @property
    def is_everything(self) -> bool:
        return self.team_ids is None

    def covers_team(self, team_id: int | None) -> bool:
        return self.team_ids is None or team_id in self.team_ids

    def covers_kr(self, kr: dict) -> bool:
        if self.team_ids is None:
            return True
        return kr["team_id"] in self.team_ids or kr["owner_id"] in self.person_ids

    def can_read(self, objective: dict, owner_manager_id: int | None) -> bool:
        """``cycles.permissions.can_read_objective`` on the stored facts (unsaved rows)."""
        if self.viewer is None or self.viewer.is_admin or not objective["private"]:
            return True
        owner = Membership(pk=objective["owner_id"], manager_id=owner_manager_id)
        row = Objective(
            pk=objective["id"],
            visibility=Visibility.PRIVATE,
            owner=owner,
            team_id=objective["team_id"],
            level=objective["level"],
        )
        return permissions.can_read_objective(self.viewer, row)


def scope_for(org: Organization, membership: Membership) -> Scope | None:
    """The report ``membership`` may read, or None (not an admin, leads no one)."""
    if membership.is_admin:
        return Scope(viewer=membership)
    team_ids = frozenset(membership.managed_team_ids)
    reports = set(
        Membership.objects.for_org(org).filter(manager=membership).values_list("id", flat=True)
    )
    if not team_ids and not reports:
        return None
    on_teams = set(
        TeamMembership.objects.for_org(org)
        .filter(team_id__in=team_ids)
        .values_list("membership_id", flat=True)
    )
    return Scope(
        viewer=membership,
        team_ids=team_ids,
        person_ids=frozenset(on_teams | reports | {membership.pk}),
    )


# --- Figures: what a viewer reads -----------------------------------------------------------------


def _avg(total: Decimal, n: int) -> Decimal | None:
    return (total / n).quantize(_TWO, rounding=ROUND_HALF_UP) if n else None


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole).quantize(_SHARE, rounding=ROUND_HALF_UP) if whole else None


@dataclass
class ScoreStats:
    """Scores of a set of key results. Unscored ones are counted, never averaged as 0."""

    krs: int = 0
    scored: int = 0
    total: Decimal = Decimal(0)
    committed: int = 0  # scored committed key results
    committed_met: int = 0
    aspirational: int = 0
    aspirational_met: int = 0
    checkins: int = 0

    def add(self, kr: KeyResultFigures) -> None:
        self.krs += 1
        self.checkins += kr.checkins
        if kr.score is None:
            return
        self.scored += 1
        self.total += kr.score
        if kr.committed:
            self.committed += 1
            self.committed_met += kr.met
        else:
            self.aspirational += 1
            self.aspirational_met += kr.met

    @property
    def unscored(self) -> int:
        return self.krs - self.scored

    @property
    def average(self) -> Decimal | None:
        return _avg(self.total, self.scored)

    @property
    def band(self) -> str | None:
        average = self.average
        return None if average is None else scoring.score_band(average).value

    @property
    def committed_share(self) -> Decimal | None:
        return _share(self.committed_met, self.committed)

    @property
    def aspirational_share(self) -> Decimal | None:
        return _share(self.aspirational_met, self.aspirational)


@dataclass
class KeyResultFigures:
    id: int
    title: str | None  # None: a private objective the viewer may not read
    objective: ObjectiveFigures
    owner_id: int
    owner_name: str
    team_id: int | None
    team_name: str
    weight: Decimal
    progress: Decimal  # capped
    score: Decimal | None
    reason: str
    what_worked: str
    what_to_change: str
    checkins: int
    committed: bool
    band: str | None = None
    met: bool | None = None
    carry_over_because: list[str] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return self.objective.readable

    @property
    def reason_label(self) -> str:
        if not self.reason:
            return ""
        try:
            return str(ReasonCode(self.reason).label)
        except ValueError:
            return self.reason


@dataclass
class ObjectiveFigures:
    id: int
    title: str | None
    level: int
    type: str
    owner_name: str
    readable: bool
    key_results: list[KeyResultFigures] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return self.type == ObjectiveType.COMMITTED

    @property
    def type_label(self) -> str:
        return str(ObjectiveType(self.type).label)

    @property
    def score(self) -> Decimal | None:
        """Weighted mean of its scored key results (weights as for objective progress)."""
        scored = [k for k in self.key_results if k.score is not None]
        weight = sum((k.weight for k in scored), Decimal(0))
        if not weight:
            return None
        total = sum((k.score * k.weight for k in scored), Decimal(0))
        return (total / weight).quantize(_TWO, rounding=ROUND_HALF_UP)

    @property
    def band(self) -> str | None:
        score = self.score
        return None if score is None else scoring.score_band(score).value

    @property
    def scored(self) -> int:
        return sum(1 for k in self.key_results if k.score is not None)

    @property
    def unscored(self) -> int:
        return len(self.key_results) - self.scored


@dataclass
class WeekCell:
    week: date
    checked: int
    of: int

    @property
    def complete(self) -> bool:
        return self.of > 0 and self.checked >= self.of

    @property
    def state(self) -> str:
        if self.complete:
            return "complete"
        return "partial" if self.checked else "none"


@dataclass
class TeamFigures:
    id: int
    name: str
    slug: str
    pilot: bool
    stats: ScoreStats = field(default_factory=ScoreStats)
    objectives: list[ObjectiveFigures] = field(default_factory=list)
    weeks: list[WeekCell] = field(default_factory=list)

    @property
    def checkin_rate(self) -> Decimal | None:
        return _share(sum(w.checked for w in self.weeks), self.stats.krs * len(self.weeks))

    @property
    def week_runs(self) -> list[dict]:
        """Consecutive weeks of the same state, as runs of squares (the PDF draws text: one
        box per run is far cheaper to typeset than one per week)."""
        runs: list[dict] = []
        for week in self.weeks:
            if runs and runs[-1]["state"] == week.state:
                runs[-1]["squares"] += "■"
            else:
                runs.append({"state": week.state, "squares": "■"})
        return runs

    @property
    def longest_streak(self) -> int:
        best = run = 0
        for week in self.weeks:
            run = run + 1 if week.complete else 0
            best = max(best, run)
        return best


@dataclass
class PersonFigures:
    id: int
    name: str
    weeks: int
    key_results: list[KeyResultFigures] = field(default_factory=list)
    stats: ScoreStats = field(default_factory=ScoreStats)

    @property
    def checkin_rate(self) -> Decimal | None:
        return _share(self.stats.checkins, self.stats.krs * self.weeks)


@dataclass
class GroupFigures:
    """Pilot teams, or the rest of the organisation."""

    key: str
    label: str
    teams: int = 0
    stats: ScoreStats = field(default_factory=ScoreStats)
    weeks: int = 0

    @property
    def checkin_rate(self) -> Decimal | None:
        return _share(self.stats.checkins, self.stats.krs * self.weeks)


@dataclass
class Bucket:
    score: Decimal
    count: int

    @property
    def band(self) -> str:
        return scoring.score_band(self.score).value

    @property
    def label(self) -> str:
        return f"{self.score:.1f}"


@dataclass
class Distribution:
    buckets: list[Bucket]
    unscored: int
    bands: dict[str, int]

    @property
    def scored(self) -> int:
        return sum(b.count for b in self.buckets)

    @property
    def largest(self) -> int:
        return max([b.count for b in self.buckets] + [self.unscored, 0])


@dataclass
class ReasonGroup:
    reason: str
    label: str
    key_results: list[KeyResultFigures]


@dataclass
class ReportFigures:
    org_name: str
    org_slug: str
    cycle_id: int
    cycle_name: str
    cycle_start: date
    cycle_end: date
    is_pilot: bool
    collected_at: datetime
    weeks: list[date]
    scoped: bool  # a manager's edition: their teams and people only
    overall: ScoreStats
    company: list[ObjectiveFigures]
    company_stats: ScoreStats
    teams: list[TeamFigures]
    people: list[PersonFigures]
    distribution: Distribution
    pilot_groups: list[GroupFigures]
    carry_over: list[KeyResultFigures]
    reflections: list[ReasonGroup]
    key_results: list[KeyResultFigures]

    @property
    def checkin_rate(self) -> Decimal | None:
        return _share(self.overall.checkins, self.overall.krs * len(self.weeks))


def _team_name(team_rows: dict, team_id: int | None, level: int) -> str:
    if team_id in team_rows:
        return team_rows[team_id]["name"]
    return _("Company") if level == Level.COMPANY else ""


def summarize(facts: dict, scope: Scope | None = None) -> ReportFigures:
    """The figures of :func:`collect`'s facts that ``scope`` covers (default: everything)."""
    scope = scope or Scope()
    weeks = [date.fromisoformat(w) for w in facts["weeks"]]
    team_rows = {t["id"]: t for t in facts["teams"]}
    names = {p["id"]: p["name"] for p in facts["people"]}
    managers = {p["id"]: p["manager_id"] for p in facts["people"]}

    objectives: dict[int, ObjectiveFigures] = {}
    for row in facts["objectives"]:
        readable = scope.can_read(row, managers.get(row["owner_id"]))
        objectives[row["id"]] = ObjectiveFigures(
            id=row["id"],
            title=row["title"] if readable else None,
            level=row["level"],
            type=row["type"],
            owner_name=names.get(row["owner_id"], ""),
            readable=readable,
        )

    key_results: list[KeyResultFigures] = []
    company_krs: list[KeyResultFigures] = []
    for row in facts["krs"]:
        objective = objectives.get(row["objective_id"])
        if objective is None:
            continue
        score = None if row["score"] is None else Decimal(row["score"])
        committed = objective.committed
        kr = KeyResultFigures(
            id=row["id"],
            title=row["title"] if objective.readable else None,
            objective=objective,
            owner_id=row["owner_id"],
            owner_name=names.get(row["owner_id"], ""),
            team_id=row["team_id"],
            team_name=_team_name(team_rows, row["team_id"], objective.level),
            weight=Decimal(row["weight"]),
            progress=Decimal(row["progress"]),
            score=score,
            reason=row["reason"] if objective.readable else "",
            what_worked=row["what_worked"] if objective.readable else "",
            what_to_change=row["what_to_change"] if objective.readable else "",
            checkins=row["checkins"],
            committed=committed,
        )
        if score is not None:
            kr.band = scoring.score_band(score).value
            kr.met = scoring.met_expectation(score, committed)
        if committed:
            if kr.progress < 1:
                kr.carry_over_because.append("unfinished")
            if score is not None and score < Decimal("0.7"):
                kr.carry_over_because.append("low_score")
        objective.key_results.append(kr)
        if objective.level == Level.COMPANY:
            company_krs.append(kr)
        if scope.covers_kr(row):
            key_results.append(kr)

    # Company view: the company's objectives are everyone's (private ones blanked).
    company = [o for o in objectives.values() if o.level == Level.COMPANY]
    company_stats = ScoreStats()
    for kr in company_krs:
        company_stats.add(kr)

    overall = ScoreStats()
    for kr in key_results:
        overall.add(kr)

    # Teams, with their cadence.
    teams: dict[int, TeamFigures] = {}
    for row in facts["teams"]:
        if scope.covers_team(row["id"]):
            teams[row["id"]] = TeamFigures(
                id=row["id"], name=row["name"], slug=row["slug"], pilot=row["pilot"]
            )
    for kr in key_results:
        team = teams.get(kr.team_id)
        if team is not None:
            team.stats.add(kr)
    for objective_row in facts["objectives"]:
        team = teams.get(objective_row["counted_for"])
        if team is not None and objective_row["level"] != Level.COMPANY:
            team.objectives.append(objectives[objective_row["id"]])
    for team in teams.values():
        counts = facts["cadence"].get(str(team.id), [0] * len(weeks))
        team.weeks = [
            WeekCell(week=w, checked=c, of=team.stats.krs)
            for w, c in zip(weeks, counts, strict=True)
        ]

    # People: everyone who owns a key result in the scope.
    people: dict[int, PersonFigures] = {}
    for kr in key_results:
        person = people.get(kr.owner_id)
        if person is None:
            person = people[kr.owner_id] = PersonFigures(
                id=kr.owner_id, name=kr.owner_name, weeks=len(weeks)
            )
        person.key_results.append(kr)
        person.stats.add(kr)

    # Score distribution.
    counts = dict.fromkeys(_BUCKETS, 0)
    bands = {band.value: 0 for band in scoring.ScoreBand}
    for kr in key_results:
        if kr.score is not None:
            counts[kr.score] += 1
            bands[kr.band] += 1
    distribution = Distribution(
        buckets=[Bucket(score=s, count=n) for s, n in counts.items()],
        unscored=overall.unscored,
        bands=bands,
    )

    # Pilot teams against the rest (key results of no team are the rest's).
    pilot_groups = []
    if facts["cycle"]["is_pilot"]:
        pilot = GroupFigures(key="pilot", label=_("Pilot teams"), weeks=len(weeks))
        rest = GroupFigures(key="rest", label=_("The rest"), weeks=len(weeks))
        for team in teams.values():
            (pilot if team.pilot else rest).teams += 1
        for kr in key_results:
            in_pilot = kr.team_id in team_rows and team_rows[kr.team_id]["pilot"]
            (pilot if in_pilot else rest).stats.add(kr)
        pilot_groups = [pilot, rest]

    carry_over = sorted(
        (kr for kr in key_results if kr.carry_over_because),
        key=lambda k: (k.score is None, k.score or 0, k.progress, k.id),
    )

    grouped: dict[str, list[KeyResultFigures]] = defaultdict(list)
    for kr in key_results:
        if kr.readable and (kr.reason or kr.what_worked or kr.what_to_change):
            grouped[kr.reason].append(kr)
    reflections = [
        ReasonGroup(reason=code, label=str(label), key_results=grouped[code])
        for code, label in ReasonCode.choices
        if grouped.get(code)
    ]
    if grouped.get(""):
        reflections.append(
            ReasonGroup(reason="", label=_("No reason given"), key_results=grouped[""])
        )

    cycle = facts["cycle"]
    return ReportFigures(
        org_name=facts["org"]["name"],
        org_slug=facts["org"]["slug"],
        cycle_id=cycle["id"],
        cycle_name=cycle["name"],
        cycle_start=date.fromisoformat(cycle["start"]),
        cycle_end=date.fromisoformat(cycle["end"]),
        is_pilot=cycle["is_pilot"],
        collected_at=datetime.fromisoformat(facts["collected_at"]),
        weeks=weeks,
        scoped=not scope.is_everything,
        overall=overall,
        company=company,
        company_stats=company_stats,
        teams=sorted(teams.values(), key=lambda t: t.name.lower()),
        people=sorted(people.values(), key=lambda p: p.name.lower()),
        distribution=distribution,
        pilot_groups=pilot_groups,
        carry_over=carry_over,
        reflections=reflections,
        key_results=key_results,
    )


# --- Requesting a report ----------------------------------------------------------------------


@transaction.atomic
def report_request(*, org: Organization, by: Membership | None, cycle: Cycle) -> Report:
    """Ask for ``cycle``'s report to be (re)built; returns the one report row of the cycle.

    Admins only (``by`` None is the system itself, e.g. closing at a scoring deadline), for
    a cycle in scoring or closed. Requests are serialised on the cycle's
    row, so two at once agree on one report row and one build: a request that finds the
    report still queued (recently) is the same request, and a newer generation makes any
    older build still running stop before it stores anything.
    """
    if by is not None and not by.is_admin:
        raise PermissionDenied(_("Only admins produce the quarter's report."))
    if (by is not None and by.organization_id != org.pk) or cycle.organization_id != org.pk:
        raise ValidationError(_("That belongs to another organisation."))
    # The lock serialises requests even before the report row exists.
    cycle = Cycle.objects.for_org(org).select_for_update().get(pk=cycle.pk)
    if cycle.state not in REPORTABLE_STATES:
        raise ValidationError(
            _("%(cycle)s has no report yet: reports are produced once scoring starts.")
            % {"cycle": cycle.name},
            code="not_reportable",
        )
    now = timezone.now()
    report = Report.objects.for_org(org).select_for_update().filter(cycle=cycle).first()
    if report is None:
        try:
            with transaction.atomic():
                report = Report.objects.create(
                    organization=org, cycle=cycle, generated_by=by, requested_at=now
                )
        except IntegrityError:  # created by a request that did not wait for the cycle lock
            report = Report.objects.for_org(org).select_for_update().get(cycle=cycle)
    elif report.status == ReportStatus.QUEUED and now - report.requested_at < REQUEUE_AFTER:
        return report  # the queued build has not started: it will read today's data anyway
    report.generation += 1
    report.status = ReportStatus.QUEUED
    report.stage = ReportStage.QUEUED
    report.progress = 0
    report.error = ""
    report.generated_by = by
    report.requested_at = now
    report.started_at = report.finished_at = None
    report.save(
        update_fields=[
            "generation",
            "status",
            "stage",
            "progress",
            "error",
            "generated_by",
            "requested_at",
            "started_at",
            "finished_at",
        ]
    )
    from checkins.report_tasks import build_report  # the task module imports this one

    build_report.delay_on_commit(org.pk, cycle.pk, report.pk, report.generation)
    return report
