"""The team dashboard's filters and sorting, and its per-person lines."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from checkins.dashboards.team import (
    STATUS_RANK,
    KeyResultRow,
    SummaryRow,
    TeamDashboard,
    _person_name,
)
from cycles import scoring
from cycles.views.common import STATUS_LABELS
from okrapp.models import Membership

SORTS = {
    "person": gettext_lazy("Person"),
    "objective": gettext_lazy("Objective, company ones first"),
    "progress": gettext_lazy("Progress, lowest first"),
    "-progress": gettext_lazy("Progress, highest first"),
    "status": gettext_lazy("Status, behind first"),
    "need_help": gettext_lazy("Needs help first"),
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
_BLANK_OBJECTIVE = (99, "", 0)


def _objective_rank(objective) -> tuple[int, str, int]:
    return (objective.level, objective.title.lower(), objective.pk)


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
        elif sort == "objective":
            # By level (company, team, individual), then title: the objective's key
            # results together, each person's in turn.
            first = _BLANK_OBJECTIVE if blank else _objective_rank(row.kr.objective)
        elif sort == "need_help":
            first = 0 if row.need_help else 1
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


# --- The summary's lines: filtered and sorted like the rows -------------------------------------


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
    if sort == "objective":
        if blank:
            return _BLANK_OBJECTIVE
        return (item.objective_level, item.objective_title.lower(), item.objective_id)
    if sort == "need_help":
        return 0 if not blank and item.need_help else 1
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
