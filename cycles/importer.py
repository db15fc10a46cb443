"""CSV import of objectives and key results into one cycle (docs/import.md).

One row per key result; rows with the same objective title belong to one objective (its
columns may be left blank after the first row). A row without a key result title makes an
objective with no key results.

:func:`parse` checks the file's shape (size, encoding, header) and raises
:class:`ImportFileError` for a file that cannot be read at all. :func:`run` then writes
every row through ``cycles.services`` (so every rule holds: permissions, levels, alignment,
KR validation) inside one transaction, collecting row-level errors with line numbers; the
transaction is rolled back for a dry run or when any row is wrong, so nothing is written
unless the whole file is valid.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from cycles import services
from cycles.models import (
    Cycle,
    Direction,
    Kind,
    Level,
    Objective,
    ObjectiveType,
    Visibility,
)
from okrapp.models import Membership, Organization, Team

MAX_BYTES = 512 * 1024
MAX_ROWS = 2000

OBJECTIVE_COLUMNS = (
    "objective_title", "level", "team", "objective_owner", "type", "visibility",
    "mission_link", "description", "aligned_to",
)  # fmt: skip
KR_COLUMNS = (
    "kr_title", "kr_owner", "kind", "direction", "start", "target", "lower_bound",
    "upper_bound", "unit", "currency", "weight",
)  # fmt: skip
COLUMNS = OBJECTIVE_COLUMNS + KR_COLUMNS
REQUIRED_COLUMNS = ("objective_title", "level", "objective_owner", "kr_title")

EXAMPLE_ROWS = [
    {
        "objective_title": "Delight new customers in their first week",
        "level": "team",
        "team": "engineering",
        "objective_owner": "bob@example.com",
        "type": "committed",
        "visibility": "public",
        "aligned_to": "Grow revenue from self-serve customers",
        "kr_title": "Cut time to first value from 5 days to 1",
        "kr_owner": "carol@example.com",
        "kind": "number",
        "direction": "decrease",
        "start": "5",
        "target": "1",
        "unit": "days",
        "weight": "1",
    },
]

ALIGN_MISSING = gettext_noop("aligned_to: no single objective “%(ref)s” in %(cycle)s or this file.")
LEVELS = {"company": Level.COMPANY, "team": Level.TEAM, "individual": Level.INDIVIDUAL}


class ImportFileError(Exception):
    """The file cannot be read as an import at all (→ 400 with this message)."""


@dataclass
class Line:
    number: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


@dataclass
class PlannedObjective:
    line: int
    title: str
    level: str
    team: str
    owner: str
    aligned_to: list[str]
    key_results: list[dict] = field(default_factory=list)


@dataclass
class ImportResult:
    objectives: list[PlannedObjective] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def key_result_count(self) -> int:
        return sum(len(o.key_results) for o in self.objectives)


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in EXAMPLE_ROWS:
        writer.writerow(row)
    return out.getvalue()


def parse(content: bytes) -> list[Line]:
    """The file's data rows, or :class:`ImportFileError` saying what is wrong with it."""
    if len(content) > MAX_BYTES:
        raise ImportFileError(
            _("The file is larger than %(kb)d KB; split it into several imports.")
            % {"kb": MAX_BYTES // 1024}
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            _("The file is not UTF-8 text (byte %(at)d). Save it as “CSV UTF-8” and try again.")
            % {"at": exc.start + 1}
        ) from exc
    if "\x00" in text:
        raise ImportFileError(_("The file is not a CSV text file."))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
        reader.fieldnames = header
        if not header:
            raise ImportFileError(_("The file is empty."))
        unknown = [name for name in header if name not in COLUMNS]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if unknown or missing or len(set(header)) != len(header):
            problems = []
            if missing:
                problems.append(_("missing: %(cols)s") % {"cols": ", ".join(missing)})
            if unknown:
                problems.append(_("unknown: %(cols)s") % {"cols": ", ".join(unknown)})
            if len(set(header)) != len(header):
                problems.append(_("a column appears twice"))
            raise ImportFileError(
                _("The header row does not match the template (%(problems)s).")
                % {"problems": "; ".join(problems)}
            )
        lines = []
        for values in reader:
            if None in values:
                raise ImportFileError(
                    _("Line %(line)d has more cells than the header.") % {"line": reader.line_num}
                )
            if not any((v or "").strip() for v in values.values()):
                continue
            lines.append(Line(reader.line_num, values))
            if len(lines) > MAX_ROWS:
                raise ImportFileError(
                    _("The file has more than %(max)d rows; split it into several imports.")
                    % {"max": MAX_ROWS}
                )
    except csv.Error as exc:
        raise ImportFileError(_("The file is not valid CSV: %(error)s") % {"error": exc}) from exc
    if not lines:
        raise ImportFileError(_("The file has a header but no rows."))
    return lines


def _decimal(line: Line, column: str, errors: list) -> Decimal | None:
    raw = line.get(column).replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors.append(
            (line.number, _("%(col)s: “%(v)s” is not a number.") % {"col": column, "v": raw})
        )
        return None
    if not value.is_finite():
        errors.append((line.number, _("%(col)s must be a number.") % {"col": column}))
        return None
    return value


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return [f"{key}: {m}" for key, msgs in exc.message_dict.items() for m in msgs]
        return list(exc.messages)
    return [str(exc) or _("You do not have permission to do this.")]


def _choice(line: Line, column: str, choices, default: str, errors: list) -> str:
    value = line.get(column).lower() or default
    if value not in choices:
        errors.append(
            (
                line.number,
                _("%(col)s: “%(v)s” is not one of %(choices)s.")
                % {"col": column, "v": value, "choices": ", ".join(choices)},
            )
        )
    return value


def run(
    *, org: Organization, by: Membership, cycle: Cycle, lines: list[Line], commit: bool
) -> ImportResult:
    """Dry run (``commit=False``) or import; either way the answer says what is created."""
    result = ImportResult()
    errors = result.errors
    if cycle.organization_id != org.pk:
        raise ValidationError(_("That belongs to another organisation."))

    people = {
        m.user.email.lower(): m
        for m in Membership.objects.for_org(org).filter(active=True).select_related("user")
    }
    teams: dict[str, Team] = {}
    for team in Team.objects.for_org(org):
        teams[team.slug.lower()] = team
        teams.setdefault(team.name.strip().lower(), team)

    # Group rows into objectives (by title, case-insensitive), first row describes it.
    groups: dict[str, list[Line]] = {}
    for line in lines:
        title = line.get("objective_title")
        if not title:
            errors.append((line.number, _("objective_title is empty.")))
            continue
        groups.setdefault(title.casefold(), []).append(line)

    planned: list[tuple[PlannedObjective, dict, list[tuple[Line, dict]]]] = []
    for rows in groups.values():
        first = rows[0]
        for other in rows[1:]:
            for column in OBJECTIVE_COLUMNS[1:]:
                if other.get(column) and other.get(column) != first.get(column):
                    errors.append(
                        (
                            other.number,
                            _("%(col)s differs from line %(first)d for the same objective.")
                            % {"col": column, "first": first.number},
                        )
                    )
        level = _choice(first, "level", LEVELS, "", errors)
        owner = people.get(first.get("objective_owner").lower())
        if owner is None:
            errors.append(
                (
                    first.number,
                    _("objective_owner: no active member with the email “%(email)s”.")
                    % {"email": first.get("objective_owner")},
                )
            )
        team = None
        if first.get("team"):
            team = teams.get(first.get("team").lower())
            if team is None:
                errors.append(
                    (first.number, _("team: no team “%(team)s”.") % {"team": first.get("team")})
                )
        objective_kwargs = {
            "title": first.get("objective_title"),
            "level": LEVELS.get(level),
            "owner": owner,
            "team": team,
            "type": _choice(first, "type", ObjectiveType.values, "committed", errors),
            "visibility": _choice(first, "visibility", Visibility.values, "public", errors),
            "mission_link": first.get("mission_link"),
            "description": first.get("description"),
        }
        aligned = [a.strip() for a in first.get("aligned_to").split("|") if a.strip()]
        plan = PlannedObjective(
            line=first.number,
            title=objective_kwargs["title"],
            level=level,
            team=team.name if team else "",
            owner=owner.display_name if owner else first.get("objective_owner"),
            aligned_to=aligned,
        )
        krs = []
        for line in rows:
            if not line.get("kr_title"):
                continue
            kr_owner_email = line.get("kr_owner") or first.get("objective_owner")
            kr_owner = people.get(kr_owner_email.lower())
            if kr_owner is None:
                errors.append(
                    (
                        line.number,
                        _("kr_owner: no active member with the email “%(email)s”.")
                        % {"email": kr_owner_email},
                    )
                )
            kwargs = {
                "title": line.get("kr_title"),
                "owner": kr_owner,
                "kind": _choice(line, "kind", Kind.values, "number", errors),
                "direction": _choice(line, "direction", Direction.values, "increase", errors),
                "start_value": _decimal(line, "start", errors),
                "target_value": _decimal(line, "target", errors),
                "lower_bound": _decimal(line, "lower_bound", errors),
                "upper_bound": _decimal(line, "upper_bound", errors),
                "unit": line.get("unit"),
                "currency": line.get("currency").upper(),
                "weight": _decimal(line, "weight", errors) or Decimal(1),
            }
            krs.append((line, kwargs))
            plan.key_results.append(
                {
                    "line": line.number,
                    "title": kwargs["title"],
                    "owner": kr_owner.display_name if kr_owner else kr_owner_email,
                    "kind": kwargs["kind"],
                    "direction": kwargs["direction"],
                    "start": kwargs["start_value"],
                    "target": kwargs["target_value"],
                    "unit": kwargs["unit"],
                }
            )
        planned.append((plan, objective_kwargs, krs))

    # Parents before children, so a row can align to an objective made earlier in the file.
    planned.sort(key=lambda p: (p[1]["level"] or 9, p[0].line))
    result.objectives = [p for p, _kw, _krs in planned]
    if errors:
        errors.sort()
        return result

    with transaction.atomic():
        made: dict[str, Objective] = {}
        existing = list(Objective.objects.for_org(org).in_cycle(cycle).current())
        for plan, kwargs, krs in planned:
            parents = []
            for ref in plan.aligned_to:
                parent = made.get(ref.casefold()) or _find_existing(existing, ref)
                if parent is None:
                    errors.append(
                        (
                            plan.line,
                            _(ALIGN_MISSING) % {"ref": ref, "cycle": cycle.name},
                        )
                    )
                else:
                    parents.append(parent)
            if len(parents) != len(plan.aligned_to):
                continue
            try:
                with transaction.atomic():
                    objective = services.objective_create(
                        org=org, by=by, cycle=cycle, aligned_to=parents, **kwargs
                    )
            except (ValidationError, PermissionDenied) as exc:
                errors.extend((plan.line, m) for m in _messages(exc))
                continue
            made[plan.title.casefold()] = objective
            for line, kr_kwargs in krs:
                try:
                    with transaction.atomic():
                        services.key_result_create(org=org, by=by, objective=objective, **kr_kwargs)
                except (ValidationError, PermissionDenied) as exc:
                    errors.extend((line.number, m) for m in _messages(exc))
        if errors or not commit:
            transaction.set_rollback(True)
        else:
            result.committed = True
    errors.sort()
    return result


def _find_existing(existing: list[Objective], ref: str) -> Objective | None:
    """An objective of the cycle named by id (``#12`` or ``12``) or by exact title."""
    key = ref.removeprefix("#")
    if key.isdigit():
        return next((o for o in existing if o.pk == int(key)), None)
    matches = [o for o in existing if o.title.casefold() == ref.casefold()]
    return matches[0] if len(matches) == 1 else None
