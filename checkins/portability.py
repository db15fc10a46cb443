"""The organisation's data as one JSON archive, and its re-import into an empty organisation.

The archive holds, per section, every row of the organisation with its own id and the ids
it points at (members, teams, cycles, objectives, alignments, key results, initiatives,
scores, check-ins, acknowledgements, comments, mentions, kudos, one-on-ones, meetings with
their shared notes (never the manager's private notes), agenda and action items, time
away) and the quarter reports' metadata. People are identified by email.

Import is a restore, not a planning action: rows are recreated as they were (a closed
cycle stays closed, a check-in keeps its week and author), so it writes the models directly
in one transaction instead of going through the planning services, whose rules (frozen
cycles, one check-in a week "now") describe new work. It refuses an organisation that has
any data besides the importing admin. Secrets and delivery state (API tokens, calendar
feeds, invitations, notification claims) and edit history are not part of the archive.

Quarter reports travel as their metadata (cycle, generation, requester, language, status),
not as files: the files are a rendering of the data the archive already holds, so the import
recreates each report row and has it rebuilt by the worker from the restored data (same
figures, same CSV; the rebuild's time becomes its ``finished_at``). A restore mails nobody:
the recreated generation counts as already mailed. A report that had failed stays failed,
with its error, until an admin asks again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from checkins.models import (
    Acknowledgement,
    ActionItem,
    AgendaItem,
    AwayPeriod,
    CheckIn,
    Comment,
    Kudos,
    Meeting,
    Mention,
    OneOnOne,
    OrgExport,
    Report,
    ReportStage,
    ReportStatus,
)
from cycles import services as okr_services
from cycles.models import (
    Alignment,
    Cycle,
    CyclePilotTeam,
    CycleTransition,
    Initiative,
    KeyResult,
    KeyResultScore,
    Objective,
    Review,
)
from okrapp.models import Membership, Organization, Team, TeamMembership, User

FORMAT = "okrapp-organization-export"
VERSION = 1
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024

ORG_FIELDS = (
    "name", "mission", "vision", "time_zone", "fiscal_year_start_month", "checkin_weekday",
    "checkin_hour", "escalation_grace_days", "language",
)  # fmt: skip

# (section, model, fields left out). Parents come before the rows that point at them;
# self-references (a manager, a parent team, "carried over from") are set in a second pass.
SECTIONS: list[tuple[str, type[models.Model], tuple[str, ...]]] = [
    ("members", Membership, ("user",)),
    ("teams", Team, ()),
    ("team_members", TeamMembership, ()),
    ("cycles", Cycle, ()),
    ("cycle_pilot_teams", CyclePilotTeam, ()),
    ("cycle_transitions", CycleTransition, ()),
    # The aligned figures are worked out from the rows on import, not copied.
    ("objectives", Objective, ("aligned_progress", "aligned_total", "aligned_count")),
    ("alignments", Alignment, ()),
    ("reviews", Review, ()),
    ("key_results", KeyResult, ()),
    ("initiatives", Initiative, ()),
    ("scores", KeyResultScore, ()),
    ("checkins", CheckIn, ()),
    ("acknowledgements", Acknowledgement, ()),
    ("comments", Comment, ()),
    ("mentions", Mention, ()),
    ("kudos", Kudos, ()),
    ("one_on_ones", OneOnOne, ()),
    ("meetings", Meeting, ("private_notes",)),
    ("action_items", ActionItem, ()),
    ("agenda_items", AgendaItem, ()),
    ("time_away", AwayPeriod, ()),
]
SECTION_OF = {model: name for name, model, _skip in SECTIONS}
REPORT_FIELDS = (
    "cycle_id", "status", "generation", "requested_at", "finished_at", "language",
    "generated_by_id", "error",
)  # fmt: skip


def _fields(model, skip: tuple[str, ...]) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in ("id", "organization", *skip)
        and not isinstance(f, models.FileField)
        and not f.name.startswith("_")
    ]


# --- Export ------------------------------------------------------------------------------------


def build_archive(org: Organization) -> dict:
    """Every row of ``org``, as JSON-ready data (one query per section)."""
    archive: dict = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "organization": {"slug": org.slug, **{f: getattr(org, f) for f in ORG_FIELDS}},
    }
    for section, model, skip in SECTIONS:
        names = ["id", *(f.attname for f in _fields(model, skip))]
        qs = model.objects.for_org(org).order_by("pk")
        if model is Membership:
            names += ["user__email", "user__full_name"]
        rows = []
        for row in qs.values(*names).iterator():
            if model is Membership:
                row["email"] = row.pop("user__email")
                row["full_name"] = row.pop("user__full_name")
            rows.append(row)
        archive[section] = rows
    archive["reports"] = list(
        Report.objects.for_org(org).order_by("pk").values("id", *REPORT_FIELDS)
    )
    # Plain JSON types (dates, decimals as strings), exactly as stored in the file.
    return json.loads(json.dumps(archive, cls=_ArchiveEncoder))


class _ArchiveEncoder(DjangoJSONEncoder):
    """Django's encoder, with times to the microsecond as stored. Django's cuts them to
    milliseconds and drops an all-zero fraction, so a time like 01:39:00.000412 came back
    from an import as 01:39:00 and exported differently the second time."""

    def default(self, o):
        if isinstance(o, datetime):
            text = o.isoformat(timespec="microseconds")
            return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        return super().default(o)


def dumps(archive: dict) -> bytes:
    return json.dumps(archive, ensure_ascii=False, indent=1).encode("utf-8")


@transaction.atomic
def export_request(*, org: Organization, by: Membership) -> OrgExport:
    """Queue a new archive (an export already queued or building is the one returned)."""
    from checkins.portability_tasks import build_org_export

    if not by.is_admin or by.organization_id != org.pk:
        raise PermissionDenied(_("Only admins can export the organisation."))
    running = OrgExport.objects.for_org(org).filter(
        status__in=[ReportStatus.QUEUED, ReportStatus.BUILDING]
    )
    current = running.first()
    if current is not None:
        return current
    export = OrgExport.objects.create(organization=org, requested_by=by)
    build_org_export.delay_on_commit(org.pk, export.pk)
    return export


# --- Import ------------------------------------------------------------------------------------


def load(content: bytes) -> dict:
    """The archive in ``content``, or ``ValidationError`` saying why it is not one."""
    if len(content) > MAX_ARCHIVE_BYTES:
        raise ValidationError(_("The archive is too large to import here."))
    try:
        archive = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(_("The file is not a JSON archive exported by okrapp.")) from exc
    if not isinstance(archive, dict) or archive.get("format") != FORMAT:
        raise ValidationError(_("The file is not a JSON archive exported by okrapp."))
    if archive.get("version") != VERSION:
        raise ValidationError(
            _("This archive has version %(v)s; this installation reads version %(ours)d.")
            % {"v": archive.get("version"), "ours": VERSION}
        )
    for section, _model, _skip in SECTIONS:
        if not isinstance(archive.get(section, []), list):
            raise ValidationError(_("The archive is damaged (section %(s)s).") % {"s": section})
    return archive


def is_empty(org: Organization, by: Membership) -> bool:
    """Nothing in the organisation but the importing admin."""
    for _section, model, _skip in SECTIONS:
        qs = model.objects.for_org(org)
        if model is Membership:
            qs = qs.exclude(pk=by.pk)
        if qs.exists():
            return False
    return True


def _value(field: models.Field, raw):
    if raw is None:
        return None
    if isinstance(field, models.DateTimeField) and isinstance(raw, str):
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if isinstance(field, models.DateField) and isinstance(raw, str):
        return date.fromisoformat(raw)
    if isinstance(field, models.DecimalField):
        return Decimal(str(raw))
    return field.to_python(raw)


@transaction.atomic
def import_archive(*, org: Organization, by: Membership, archive: dict) -> dict[str, int]:
    """Recreate ``archive`` in ``org`` (which must be empty); returns rows per section.

    People are matched by email: an existing account is reused (its password untouched),
    an unknown one is created without a password (they set one through "forgot password"
    or sign in through the organisation's SSO). The importing admin stays an admin.
    """
    if not by.is_admin or by.organization_id != org.pk:
        raise PermissionDenied(_("Only admins can import into the organisation."))
    org = Organization.objects.select_for_update().get(pk=org.pk)
    if not is_empty(org, by):
        raise ValidationError(
            _("%(org)s already has data. Import an archive into a new, empty organisation.")
            % {"org": org.name}
        )
    settings_in = archive.get("organization") or {}
    for name in ORG_FIELDS:
        if name in settings_in and name != "name":
            setattr(org, name, settings_in[name])
    org.full_clean(exclude=["slug", "name"])
    org.save()

    ids: dict[type[models.Model], dict[int, int]] = {}
    counts: dict[str, int] = {}
    try:
        for section, model, skip in SECTIONS:
            rows = archive.get(section) or []
            counts[section] = len(rows)
            _import_section(org, by, model, skip, rows, ids)
        okr_services.objectives_rollup_organisation(org.pk)
        reports = archive.get("reports") or []
        if not isinstance(reports, list):
            raise TypeError("section reports is not a list")
        counts["reports"] = len(reports)
        _import_reports(org, reports, ids)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValidationError(
            _("The archive is damaged and was not imported (%(error)s).") % {"error": exc}
        ) from exc
    return counts


def _import_section(org, by, model, skip, rows, ids) -> None:
    fields = _fields(model, skip)
    own = ids.setdefault(model, {})
    later: list[tuple[models.Model, models.Field, int]] = []
    objects = []
    for row in rows:
        obj = model(organization=org)
        for field in fields:
            raw = row.get(field.attname, field.get_default() if field.has_default() else None)
            if field.is_relation:
                if raw is None:
                    setattr(obj, field.attname, None)
                elif field.related_model is model:
                    setattr(obj, field.attname, None)
                    later.append((obj, field, raw))
                else:
                    setattr(obj, field.attname, ids[field.related_model][raw])
            else:
                setattr(obj, field.attname, _value(field, raw))
        objects.append((row["id"], obj))

    # auto_now / auto_now_add fields are stamped "now" on insert: put the archive's back.
    stamped = [
        f.name for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    kept = [{name: getattr(o, name) for name in stamped} for _id, o in objects]
    if model is Membership:
        attached = _attach_users(org, by, objects, rows)
        swap = {id(old): new for (_i, old), (_j, new) in zip(objects, attached, strict=True)}
        later = [(swap[id(obj)], field, raw) for obj, field, raw in later]
        objects = attached
        Membership.objects.bulk_create([obj for _id, obj in objects if obj is not by])
        for old_id, obj in objects:
            own[old_id] = obj.pk
        if by.pk in own.values():
            by.role = Membership.Role.ADMIN  # the importing admin keeps the keys
            by.active = True
            by.save()
    else:
        model.objects.bulk_create([obj for _id, obj in objects])
        for old_id, obj in objects:
            own[old_id] = obj.pk
    if stamped and objects:
        for (_id, obj), values in zip(objects, kept, strict=True):
            for name, value in values.items():
                setattr(obj, name, value)
        model.objects.for_org(org).bulk_update([o for _id, o in objects], stamped, batch_size=500)
    if later:
        for obj, field, raw in later:
            setattr(obj, field.attname, own[raw])
        names = sorted({field.name for _o, field, _r in later})
        model.objects.for_org(org).bulk_update([o for o, _f, _r in later], names, batch_size=500)


def _import_reports(org, rows, ids) -> None:
    """Recreate the report rows and queue the rebuild of their files (after commit)."""
    from checkins.report_tasks import build_report  # the task module imports the models

    cycles = ids.get(Cycle, {})
    members = ids.get(Membership, {})
    seen: set[int] = set()
    for row in rows:
        cycle_id = cycles[row["cycle_id"]]
        if cycle_id in seen:
            raise ValueError("two reports for one cycle")
        seen.add(cycle_id)
        generation = int(row.get("generation") or 0)
        if generation < 0:
            raise ValueError("negative report generation")
        requester = row.get("generated_by_id")
        failed = row.get("status") == ReportStatus.FAILED
        report = Report.objects.create(
            organization=org,
            cycle_id=cycle_id,
            generation=generation,
            # The archive's generation was mailed when it was built; a restore mails nobody.
            mailed_generation=generation,
            generated_by_id=members[requester] if requester is not None else None,
            requested_at=_value(Report._meta.get_field("requested_at"), row.get("requested_at"))
            or timezone.now(),
            finished_at=_value(Report._meta.get_field("finished_at"), row.get("finished_at"))
            if failed
            else None,
            language=str(row.get("language") or ""),
            status=ReportStatus.FAILED if failed else ReportStatus.QUEUED,
            stage=ReportStage.FAILED if failed else ReportStage.QUEUED,
            error=str(row.get("error") or "") if failed else "",
        )
        if not failed:
            build_report.delay_on_commit(org.pk, cycle_id, report.pk, generation)


def _attach_users(org, by, objects, rows):
    emails = [(row.get("email") or "").strip().lower() for row in rows]
    if any(not e for e in emails) or len(set(emails)) != len(emails):
        raise ValueError("members need distinct emails")
    users = {u.email.lower(): u for u in User.objects.filter(email__in=emails)}
    result = []
    for (old_id, obj), email, row in zip(objects, emails, rows, strict=True):
        user = users.get(email)
        if user is None:
            user = User.objects.create_user(email=email, full_name=row.get("full_name") or "")
        elif row.get("full_name") and not user.full_name:
            user.full_name = row["full_name"]
            user.save(update_fields=["full_name"])
        if user.pk == by.user_id:
            # The importing admin's own membership takes the archive's details.
            for field in _fields(Membership, ("user", "manager")):
                setattr(by, field.attname, getattr(obj, field.attname))
            by.manager_id = obj.manager_id
            obj = by
        else:
            obj.user = user
        result.append((old_id, obj))
    return result
