"""Reads the OKR pages share: which cycle a page shows, what the viewer may read and edit,
and the figures every list of objectives needs (progress status, quality, review counts,
change history), each loaded in a constant number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cycles import permissions, quality, scoring
from cycles.models import (
    Alignment,
    Cycle,
    KeyResult,
    Level,
    Objective,
    ReviewStatus,
)
from okrapp.models import Membership, Organization, Team, TeamMembership

STATUS_LABELS = {
    scoring.Status.ON_TRACK: gettext_lazy("On track"),
    scoring.Status.AT_RISK: gettext_lazy("At risk"),
    scoring.Status.BEHIND: gettext_lazy("Behind"),
}


def frozen_message(cycle: Cycle) -> str:
    # The same words as the service's refusal (cycles.services), shown before a form is sent.
    return _("%(cycle)s is closed; its values are frozen and can no longer change.") % {
        "cycle": cycle.name
    }


# --- Cycles -----------------------------------------------------------------------------------


def load_cycles(org: Organization) -> list[Cycle]:
    """The organisation's cycles, current first (one query), ready for links."""
    cycles = list(Cycle.objects.for_org(org).current_first())
    for cycle in cycles:
        cycle.organization = org
    return cycles


def pick_cycle(request, cycles: Sequence[Cycle]) -> Cycle | None:
    """The cycle named by ``?cycle=``, else the current one (active, planning, …)."""
    raw = request.GET.get("cycle")
    if not raw:
        return cycles[0] if cycles else None
    try:
        wanted = int(raw)
    except ValueError:
        raise Http404("No such cycle.") from None
    for cycle in cycles:
        if cycle.pk == wanted:
            return cycle
    raise Http404("No such cycle.")


def get_cycle(request, cycle_id: int, queryset=None) -> Cycle:
    queryset = queryset if queryset is not None else Cycle.objects.for_org(request.org)
    cycle = get_object_or_404(queryset, pk=cycle_id)
    cycle.organization = request.org
    return cycle


# --- Objectives and key results the viewer may read ------------------------------------------


def get_readable_objective(request, objective_id: int, queryset=None) -> Objective:
    """The objective, or 404 when it is another organisation's or private to others."""
    queryset = queryset if queryset is not None else Objective.objects.for_org(request.org)
    objective = get_object_or_404(
        queryset.select_related("cycle", "owner__user", "team"), pk=objective_id
    )
    if not permissions.can_read_objective(request.membership, objective):
        raise Http404("No such objective.")  # a private objective is not revealed
    objective.organization = request.org
    objective.cycle.organization = request.org
    return objective


def get_readable_key_result(request, kr_id: int) -> KeyResult:
    kr = get_object_or_404(
        KeyResult.objects.for_org(request.org).select_related(
            "objective__cycle", "objective__owner__user", "objective__team", "owner__user"
        ),
        pk=kr_id,
    )
    if not permissions.can_read_objective(request.membership, kr.objective):
        raise Http404("No such key result.")
    kr.organization = kr.objective.organization = kr.objective.cycle.organization = request.org
    return kr


def prime_team_ids(org: Organization, people: Iterable[Membership]) -> None:
    """Fill ``Membership.team_ids`` for many people with one query (permission checks read it)."""
    pending = [p for p in people if "team_ids" not in p.__dict__]
    if not pending:
        return
    teams: dict[int, set[int]] = defaultdict(set)
    for person_id, team_id in (
        TeamMembership.objects.for_org(org)
        .filter(membership_id__in={p.pk for p in pending})
        .values_list("membership_id", "team_id")
    ):
        teams[person_id].add(team_id)
    for person in pending:
        person.__dict__["team_ids"] = teams[person.pk]


def decorate(
    objectives: Sequence[Objective],
    viewer: Membership,
    cycle: Cycle,
    *,
    org: Organization,
    expected: Decimal | None = None,
    with_key_results: bool = False,
) -> Decimal:
    """Set what templates read on each objective (and, if loaded, its key results):

    ``readable`` (private objectives of others are shown blanked), ``editable``, ``track``
    (on track / at risk / behind) and ``track_label``. Returns the expected progress today.
    """
    if expected is None:
        expected = cycle.expected_progress(cycle.today())
    frozen = cycle.is_frozen
    if not viewer.is_admin:
        prime_team_ids(
            org,
            [
                o.owner
                for o in objectives
                if o.level == Level.INDIVIDUAL and o.owner_id != viewer.pk
            ],
        )
    for objective in objectives:
        objective.readable = permissions.can_read_objective(viewer, objective)
        objective.editable = (
            not frozen and objective.readable and permissions.can_edit_objective(viewer, objective)
        )
        set_track(objective, expected)
        if with_key_results:
            for kr in objective.key_results.all():
                kr.editable = not frozen and (
                    objective.editable or permissions.can_edit_key_result(viewer, kr)
                )
                set_track(kr, expected)
    return expected


def set_track(row, expected: Decimal) -> None:
    """``row.track``: progress against the calendar (objective or key result)."""
    row.track = scoring.progress_status(row.progress, expected)
    row.track_label = None if row.track is None else STATUS_LABELS[row.track]


# --- Quality ----------------------------------------------------------------------------------


def quality_findings(
    org: Organization, cycle: Cycle, objectives: Sequence[Objective]
) -> dict[int, list[quality.Finding]]:
    """Findings per objective; ``key_results`` must be prefetched (two more queries)."""
    linked = set(
        Alignment.objects.for_org(org)
        .filter(child__cycle=cycle)
        .values_list("child_id", flat=True)
        .distinct()
    )
    counts = dict(
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .order_by()
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    return {
        o.pk: quality.check_objective(
            o,
            list(o.key_results.all()),
            has_upward_link=o.pk in linked,
            owner_objective_count=counts.get(o.owner_id, 0),
        )
        for o in objectives
    }


@dataclass
class TeamReviewCount:
    name: str
    team: Team | None
    approved: int = 0
    changes_requested: int = 0
    not_reviewed: int = 0

    @property
    def total(self) -> int:
        return self.approved + self.changes_requested + self.not_reviewed


def review_counts(org: Organization, cycle: Cycle) -> list[TeamReviewCount]:
    """Approved / changes requested / not reviewed per team (one query)."""
    rows = (
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .order_by()
        .values("team_id", "team__name", "team__slug")
        .annotate(
            approved=Count("id", filter=Q(review_status=ReviewStatus.APPROVED)),
            changes_requested=Count("id", filter=Q(review_status=ReviewStatus.CHANGES_REQUESTED)),
            not_reviewed=Count("id", filter=Q(review_status=ReviewStatus.NOT_REVIEWED)),
        )
    )
    counts = []
    for row in rows:
        team = None
        if row["team_id"] is not None:
            team = Team(pk=row["team_id"], name=row["team__name"], slug=row["team__slug"])
        counts.append(
            TeamReviewCount(
                name=row["team__name"] or _("Company and people without a team"),
                team=team,
                approved=row["approved"],
                changes_requested=row["changes_requested"],
                not_reviewed=row["not_reviewed"],
            )
        )
    counts.sort(key=lambda c: (c.team is not None, c.name.lower()))
    return counts


# --- Change history -----------------------------------------------------------------------------

# Bookkeeping that changes on every save; not what a person changed.
HISTORY_HIDDEN_FIELDS = ("version", "position")


@dataclass
class Change:
    label: str
    old: str
    new: str
    # For a set of links ("contributes to"): what was added and removed, instead of old → new.
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class HistoryEntry:
    at: object
    who: str
    action: str  # created / changed / deleted
    subject: str  # what was changed: the objective or "Key result “…”"
    changes: list[Change] = field(default_factory=list)


def change_history(org: Organization, records: Iterable, *, subject) -> list[HistoryEntry]:
    """History entries, newest first, from historical records of one or more rows.

    ``records`` are django-simple-history rows (of any rows and models), loaded with their
    ``history_user``; each is compared with the previous record of the same row. Saves that
    changed nothing a person sees (progress recomputed) are left out. ``subject(record)``
    names what the entry is about.
    """
    by_row: dict[tuple[type, int], list] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.history_date, r.history_id)):
        # An objective and a key result may share an id: a row is (model, id).
        by_row[(type(record), record.id)].append(record)
    raw: list[tuple[object, str, list]] = []
    for rows in by_row.values():
        previous = None
        for record in rows:
            if record.history_type == "+" or previous is None:
                raw.append((record, "created", []))
            elif record.history_type == "-":
                raw.append((record, "deleted", []))
            else:
                delta = record.diff_against(previous, excluded_fields=HISTORY_HIDDEN_FIELDS)
                if delta.changes:
                    raw.append((record, "changed", delta.changes))
            previous = record
    names = _related_names(org, raw)
    entries = []
    for record, action, changes in raw:
        user = record.history_user
        entries.append(
            HistoryEntry(
                at=record.history_date,
                who=user.display_name if user else _("the system"),
                action=action,
                subject=subject(record),
                changes=[
                    Change(
                        label=str(_field(record, c.field).verbose_name),
                        old=_show(_field(record, c.field), c.old, names),
                        new=_show(_field(record, c.field), c.new, names),
                    )
                    for c in changes
                ],
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def with_alignment_history(
    org: Organization, viewer: Membership, objective: Objective, entries: list[HistoryEntry]
) -> list[HistoryEntry]:
    """``entries`` (the objective's history, :func:`change_history`) with the objectives it
    started and stopped contributing to, newest first (two queries).

    The links of one save are recorded at the moment of the objective's own record
    (``services._set_alignment``): they join that entry, else make one of their own. A
    parent the viewer may not read is named "a private objective"."""
    records = list(
        Alignment.history.filter(organization_id=org.pk, child_id=objective.pk)
        .exclude(history_type="~")
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    if not records:
        return entries
    parents = {
        o.pk: o
        for o in Objective.objects.for_org(org)
        .filter(pk__in={r.parent_id for r in records})
        .only("id", "title", "visibility", "owner_id", "team_id")
    }

    def title(pk: int) -> str:
        parent = parents.get(pk)
        if parent is None:
            return _("a deleted objective")
        if not permissions.can_read_objective(viewer, parent):
            return _("a private objective")
        return parent.title

    subject = _("the objective")
    same_moment = {(e.at, e.who): e for e in entries if e.subject == subject}
    merged = list(entries)
    for record in records:
        user = record.history_user
        who = user.display_name if user else _("the system")
        entry = same_moment.get((record.history_date, who))
        if entry is None:
            entry = HistoryEntry(at=record.history_date, who=who, action="changed", subject=subject)
            same_moment[(record.history_date, who)] = entry
            merged.append(entry)
        links = next((c for c in entry.changes if c.added or c.removed), None)
        if links is None:
            links = Change(label=_("contributes to"), old="", new="")
            entry.changes.append(links)
        (links.added if record.history_type == "+" else links.removed).append(
            title(record.parent_id)
        )
    merged.sort(key=lambda e: e.at, reverse=True)
    return merged


def _field(record, name):
    return record._meta.get_field(name)


def _related_names(org: Organization, raw) -> dict:
    """Names of the people and teams that changes point at (at most two queries)."""
    wanted: dict[type, set] = defaultdict(set)
    for record, _action, changes in raw:
        for change in changes:
            f = _field(record, change.field)
            if f.is_relation:
                wanted[f.related_model].update(v for v in (change.old, change.new) if v)
    names = {}
    if wanted.get(Membership):
        for person in (
            Membership.objects.for_org(org).filter(pk__in=wanted[Membership]).select_related("user")
        ):
            names[(Membership, person.pk)] = person.display_name
    if wanted.get(Team):
        for team_id, name in (
            Team.objects.for_org(org).filter(pk__in=wanted[Team]).values_list("id", "name")
        ):
            names[(Team, team_id)] = name
    return names


def _show(f, value, names) -> str:
    if value is None or value == "":
        return "—"
    if f.is_relation:
        return names.get((f.related_model, value), f"#{value}")
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


# --- Optimistic edits ------------------------------------------------------------------------


def conflict_form(form, exc, *, current: dict, rebuild):
    """After a :class:`~cycles.services.ConflictError`: the person's typed values again, now
    carrying the newer version (so saving them is a deliberate overwrite), the service's
    message, and ``newer``: for each field someone else changed, its newer value as shown.
    """
    newer = {}
    for name, value in current.items():
        if name == "version" or name not in form.cleaned_data:
            continue
        if _comparable(form.cleaned_data[name]) != _comparable(value):
            newer[name] = _as_shown(form.fields[name], value)
    data = form.data.copy()
    data["version"] = str(exc.current.version)
    again = rebuild(data)
    again.is_valid()
    again.add_error(None, exc.messages)
    return again, newer


def _comparable(value):
    if value in (None, ""):
        return None
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple | set) or hasattr(value, "model"):
        return sorted(_comparable(v) for v in value)
    return value


def _as_shown(f, value) -> str:
    """A stored value as the form shows it: choice labels, people's and teams' names."""
    if value in (None, "", []):
        return "—"
    queryset = getattr(f, "queryset", None)
    if queryset is not None:
        wanted = set(value) if isinstance(value, list | tuple | set) else {value}
        shown = [f.label_from_instance(o) for o in queryset if o.pk in wanted]
        if len(shown) < len(wanted) and isinstance(value, list | tuple | set):
            shown.append(_("a private objective"))  # alignment the viewer may not read
        return "; ".join(shown) or "—"
    choices = getattr(f, "choices", None)
    if choices:
        return str(dict(choices).get(value, dict(choices).get(str(value), value)))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)
