"""Writes of the weekly cadence: check-ins, acknowledgements, comments, kudos, one-on-ones.

Keyword-only, one transaction each, organisation explicit; refusals are ``ValidationError``
(with a message a person can act on) or ``PermissionDenied``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import cache

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from checkins.models import (
    Acknowledgement,
    ActionItem,
    AgendaItem,
    AwayPeriod,
    CheckIn,
    ClaimStatus,
    Comment,
    Kudos,
    Meeting,
    Mention,
    NotificationClaim,
    OneOnOne,
    week_start,
)
from cycles import permissions as okr_permissions
from cycles import services as okr_services
from cycles.models import Cycle, KeyResult, Objective
from cycles.services import ConflictError
from okrapp import cache as page_cache
from okrapp import rows
from okrapp.models import Membership, Organization
from okrapp.tenancy import require_same_org

LOW_CONFIDENCE = 4  # at or below: the 1:1 agenda puts it first, after need-help


def current_week(org: Organization, now=None) -> date:
    """Monday of this ISO week in the organisation's time zone."""
    local = timezone.localtime(now or timezone.now(), org.zoneinfo)
    return week_start(local.date())


# --- Who may ---------------------------------------------------------------------------------


def manages(by: Membership, person: Membership) -> bool:
    """``by`` is an admin, ``person``'s manager, or leads a team ``person`` is on."""
    if by.is_admin or person.manager_id == by.pk:
        return True
    return bool(person.team_ids & by.managed_team_ids)


def can_check_in(by: Membership, key_result: KeyResult) -> bool:
    return key_result.owner_id == by.pk or manages(by, key_result.owner)


def can_acknowledge(by: Membership, checkin: CheckIn) -> bool:
    """Someone who manages the check-in's owner, not the owner themselves."""
    return checkin.owner_id != by.pk and manages(by, checkin.owner)


# --- Check-ins --------------------------------------------------------------------------------


@cache
def _lock_sql(vendor: str) -> str:
    """The key result with its objective and cycle, the first two locked (built once)."""
    tables = {m: connection.ops.quote_name(m._meta.db_table) for m in (KeyResult, Objective, Cycle)}
    sql = (
        f"SELECT {rows.select_list(KeyResult, 'k')}, {rows.select_list(Objective, 'o')}, "  # noqa: S608 - names from _meta, quoted
        f"{rows.select_list(Cycle, 'c')} FROM {tables[KeyResult]} k "
        f"JOIN {tables[Objective]} o ON o.organization_id = k.organization_id "
        "AND o.id = k.objective_id "
        f"JOIN {tables[Cycle]} c ON c.organization_id = o.organization_id AND c.id = o.cycle_id "
        "WHERE k.organization_id = %s AND k.id = %s"
    )
    # SQLite gives a writer the whole database: no row locks to ask for.
    return sql + " FOR UPDATE OF k, o" if vendor == "postgresql" else sql


@cache
def _week_checkin_sql() -> str:
    # At most one row (unique per key result and week).
    return (
        f"SELECT {rows.select_list(CheckIn, 'ci')} "  # noqa: S608 - names from _meta, quoted
        f"FROM {connection.ops.quote_name(CheckIn._meta.db_table)} ci "
        "WHERE ci.organization_id = %s AND ci.key_result_id = %s AND ci.week = %s"
    )


def lock_for_checkin(org: Organization, key_result_id: int, *, week: date) -> KeyResult:
    """Lock a key result for a check-in and read all that recording one needs.

    The key result comes with its objective and cycle, and this week's check-in as
    ``kr.week_checkin`` (``None`` before the week's first); its owner is read only if a
    manager checks in for them. The objective is locked with it: its progress is rewritten
    from all its key results, so check-ins on two key results of one objective take turns
    instead of each writing progress from the other's old value. The week's check-in is
    read by a second query once the lock is held: one that waited for the lock must see the
    check-in its predecessor saved, which a join in the locking query would not (PostgreSQL
    rereads only the locked rows after the wait). It needs no lock of its own: it is only
    written under this one.

    Both are SQL built once (``okrapp.rows``), as the tenant querysets would ask (the
    organisation in every join and filter): on every check-in, the ORM took ten times
    longer to build them than PostgreSQL to run them.

    Call it inside the transaction that records the check-in, then :func:`checkin_record`
    with ``locked=True``. A caller that accepts only some key results checks the row it got
    (My week: :func:`checkins.selectors.checks_in_from_my_week`). Another organisation's
    key result, or none (an id past :data:`okrapp.rows.MAX_ID` too):
    ``KeyResult.DoesNotExist``.
    """
    if not 0 < key_result_id <= rows.MAX_ID:
        raise KeyResult.DoesNotExist(f"No key result {key_result_id} in {org.slug}.")
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(connection.vendor), [org.pk, key_result_id])
        row = cursor.fetchone()
        if row is None:
            raise KeyResult.DoesNotExist(f"No key result {key_result_id} in {org.slug}.")
        kr, at = rows.from_row(KeyResult, row)
        objective, at = rows.from_row(Objective, row, at)
        cycle, _end = rows.from_row(Cycle, row, at)
        cursor.execute(
            _week_checkin_sql(),
            [org.pk, kr.pk, CheckIn._meta.get_field("week").get_db_prep_value(week, connection)],
        )
        found = cursor.fetchone()
    for row_of_org in (kr, objective, cycle):
        row_of_org.organization = org
    objective.cycle = cycle
    kr.objective = objective
    kr.checkin_week = week
    kr.week_checkin = rows.from_row(CheckIn, found)[0] if found else None
    if kr.week_checkin is not None:
        kr.week_checkin.organization = org
        kr.week_checkin.key_result = kr
    return kr


# What revising the week's check-in changes.
_REVISED = ("value", "confidence", "note", "need_help", "recorded_by", "revision", "updated_at")


def checkin_record(
    *,
    org: Organization,
    by: Membership,
    key_result: KeyResult,
    value: Decimal,
    confidence: int,
    note: str = "",
    need_help: bool = False,
    expected_revision: int | None = None,
    now=None,
    locked: bool = False,
) -> CheckIn:
    """Record this week's check-in on a key result, or revise it if there is one.

    ``expected_revision`` is the revision the person saw (0: none yet); a mismatch means
    someone else saved in between and raises :class:`ConflictError` with the newer row.

    One transaction. ``locked``: the caller opened it and read ``key_result`` with
    :func:`lock_for_checkin` for this week (My week does, to check the row is one of the
    person's own before recording); otherwise the key result is locked and read here.
    """
    require_same_org(org, key_result)
    if not locked:
        # The key result's row lock comes first: a week's first check-in has no row to lock
        # yet, so without it every concurrent first check-in saw "none" and the losers
        # failed on the unique constraint with no newer values to show. Queued here, each
        # one then reads the winner's check-in and gets the ordinary revision conflict.
        with transaction.atomic():
            return checkin_record(
                org=org,
                by=by,
                key_result=lock_for_checkin(org, key_result.pk, week=current_week(org, now)),
                value=value,
                confidence=confidence,
                note=note,
                need_help=need_help,
                expected_revision=expected_revision,
                now=now,
                locked=True,
            )
    # The week the key result was locked for: read a moment ago, even across midnight.
    week = getattr(key_result, "checkin_week", None)
    if week is None or not transaction.get_connection().in_atomic_block:
        raise RuntimeError("A key result given as locked comes from lock_for_checkin.")
    kr = key_result
    if not can_check_in(by, kr):
        raise PermissionDenied(_("Only the key result's owner or their manager can check in."))
    if not 1 <= int(confidence) <= 10:
        raise ValidationError({"confidence": _("Confidence is a whole number from 1 to 10.")})
    existing = kr.week_checkin
    seen = existing.revision if existing else 0
    if expected_revision is not None and expected_revision != seen:
        raise ConflictError(
            _(
                "This check-in was changed since you opened the page. The newer values are "
                "shown; check your entry and save again."
            ),
            current=existing,
        )
    try:
        # ``kr`` is the row locked above: the KR service uses it as it is.
        okr_services.key_result_record_value(
            org=org, by=by, key_result=kr, value=value, confidence=confidence, locked=True
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "current_value" in exc.error_dict:
            raise ValidationError({"value": exc.error_dict["current_value"]}) from exc
        raise
    stamp = now or timezone.now()
    if existing is None:
        checkin = CheckIn(
            organization=org, key_result=kr, week=week, owner_id=kr.owner_id, created_at=stamp
        )
    else:
        checkin = existing
        checkin.revision += 1
    checkin.value, checkin.confidence = value, confidence
    checkin.note, checkin.need_help = note.strip(), need_help
    checkin.recorded_by, checkin.updated_at = by, stamp
    # The row and its history version as save() and simple_history would write them, from
    # SQL built once (``okrapp.rows``). No savepoint of its own: an IntegrityError leaves
    # this function (whose transaction rolls back) as the ConflictError at once, nothing
    # more is run on the connection.
    try:
        if existing is None:
            rows.insert(checkin)
        else:
            rows.update(checkin, _REVISED)
    except IntegrityError as exc:  # a first check-in by someone else in the same instant
        raise ConflictError(
            _(
                "Someone checked in on this key result at the same moment. Reload and check "
                "the newer values."
            ),
            current=None,
        ) from exc
    rows.copy_to_history(
        checkin,
        rows.CREATED if existing is None else rows.CHANGED,
        user_id=by.user_id,
        when=stamp,
    )
    # The cached figures and the owner's kept pages were declared stale by
    # key_result_record_value above: for everyone when this transaction commits.
    return checkin


@transaction.atomic
def checkin_acknowledge(
    *, org: Organization, by: Membership, checkin: CheckIn, reply: str = ""
) -> Acknowledgement:
    """A manager marks a report's check-in as seen, perhaps with a reply."""
    require_same_org(org, checkin)
    checkin = CheckIn.objects.for_org(org).select_related("owner").get(pk=checkin.pk)
    if not can_acknowledge(by, checkin):
        raise PermissionDenied(_("Only the person's manager can acknowledge their check-in."))
    ack, created = Acknowledgement.objects.for_org(org).get_or_create(
        organization=org, checkin=checkin, defaults={"by": by, "reply": reply.strip()}
    )
    if not created and reply.strip():
        ack.reply, ack.by = reply.strip(), by
        ack.save(update_fields=["reply", "by"])
    # The team dashboards count what is waiting; the owner sees it on My week.
    page_cache.bump_activity(org, people=[checkin.owner_id], key_results=[checkin.key_result_id])
    return ack


# --- Comments, mentions, kudos ------------------------------------------------------------------

_MENTION = re.compile(r"@([\w.+-]+@[\w-]+(?:\.[\w-]+)+|[\w.+-]+)")


def _mentioned(
    org: Organization, body: str, author: Membership, objective: Objective | None
) -> list[Membership]:
    """Members named as ``@alice`` (email local part) or ``@alice@acme.example`` who may
    read ``objective`` (what the comment is on, or above it): the mail quotes the comment
    and names what it is on, so naming someone who may not read a private objective
    mentions nobody."""
    handles = {h.lower().rstrip(".") for h in _MENTION.findall(body)}
    if not handles:
        return []
    people = Membership.objects.for_org(org).active().select_related("user")
    found = []
    for person in people:
        email = person.user.email.lower()
        if (email in handles or email.split("@")[0] in handles) and person.pk != author.pk:
            found.append(person)
    if objective is None:
        return found
    return [p for p in found if okr_permissions.can_read_objective(p, objective)]


def _objective_of(key_result=None, objective=None, checkin=None) -> Objective | None:
    return (
        objective
        or (key_result.objective if key_result else None)
        or (checkin.key_result.objective if checkin else None)
    )


def _subject_readable(by: Membership, key_result=None, objective=None, checkin=None) -> None:
    objective = _objective_of(key_result, objective, checkin)
    if objective is not None and not okr_permissions.can_read_objective(by, objective):
        raise PermissionDenied(_("You cannot comment on a private objective."))


def _mention(org: Organization, comment: Comment) -> None:
    """Record who the comment's body mentions and tell each of them once, after commit.

    The mentions recorded are the people told: an edit tells only those it names anew; a
    name an edit drops stays recorded (they were told), so putting it back tells nobody
    twice."""
    from checkins.tasks import send_mention_email

    subject = _objective_of(comment.key_result, comment.objective, comment.checkin)
    told = set(
        Mention.objects.for_org(org).filter(comment=comment).values_list("membership_id", flat=True)
    )
    new = [m for m in _mentioned(org, comment.body, comment.author, subject) if m.pk not in told]
    Mention.objects.bulk_create(
        [Mention(organization=org, comment=comment, membership=m) for m in new]
    )
    for person in new:
        send_mention_email.delay_on_commit(org.pk, comment.pk, person.pk)


def _comment_body(body: str) -> str:
    """A comment's text as kept, for a new comment and an edit alike; refused when empty or
    too long."""
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    if len(body) > 5000:
        raise ValidationError({"body": _("Keep comments under 5,000 characters.")})
    return body


@transaction.atomic
def comment_create(
    *,
    org: Organization,
    by: Membership,
    body: str,
    key_result: KeyResult | None = None,
    objective: Objective | None = None,
    checkin: CheckIn | None = None,
) -> Comment:
    require_same_org(org, key_result, objective, checkin)
    if sum(x is not None for x in (key_result, objective, checkin)) != 1:
        raise ValidationError(_("A comment belongs to one key result, objective or check-in."))
    body = _comment_body(body)
    _subject_readable(by, key_result, objective, checkin)
    comment = Comment.objects.create(
        organization=org,
        author=by,
        body=body,
        key_result=key_result,
        objective=objective,
        checkin=checkin,
    )
    _mention(org, comment)
    _comment_changed(org, comment)
    return comment


def _comment_changed(org: Organization, comment: Comment) -> None:
    """A comment on a key result or one of its check-ins is on that key result's page."""
    key_result_id = comment.key_result_id or (
        comment.checkin.key_result_id if comment.checkin_id else None
    )
    page_cache.bump_activity(org, key_results=[key_result_id] if key_result_id else [])


@transaction.atomic
def comment_update(*, org: Organization, by: Membership, comment: Comment, body: str) -> Comment:
    require_same_org(org, comment)
    if comment.author_id != by.pk:
        raise PermissionDenied(_("You can only edit your own comments."))
    body = _comment_body(body)
    comment.body, comment.edited_at = body, timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    _mention(org, comment)
    _comment_changed(org, comment)
    return comment


@transaction.atomic
def comment_delete(*, org: Organization, by: Membership, comment: Comment) -> None:
    require_same_org(org, comment)
    if comment.author_id != by.pk:
        raise PermissionDenied(_("You can only delete your own comments."))
    _comment_changed(org, comment)
    comment.delete()


@transaction.atomic
def kudos_give(
    *,
    org: Organization,
    by: Membership,
    receiver: Membership,
    message: str,
    key_result: KeyResult | None = None,
    objective: Objective | None = None,
) -> Kudos:
    require_same_org(org, receiver, key_result, objective)
    if receiver.pk == by.pk:
        raise ValidationError({"receiver": _("Kudos go to a colleague, not to yourself.")})
    if not receiver.active:
        raise ValidationError(
            {"receiver": _("%(name)s is no longer a member.") % {"name": receiver.display_name}}
        )
    message = message.strip()
    if not message:
        raise ValidationError({"message": _("Say what you are recognising.")})
    if len(message) > 2000:
        raise ValidationError({"message": _("Keep kudos under 2,000 characters.")})
    _subject_readable(by, key_result, objective)
    page_cache.bump_activity(org)  # the company view lists recent kudos
    return Kudos.objects.create(
        organization=org,
        giver=by,
        receiver=receiver,
        message=message,
        key_result=key_result,
        objective=objective,
    )


# --- One-on-ones --------------------------------------------------------------------------------


@transaction.atomic
def one_on_one_get_or_create(
    *,
    org: Organization,
    by: Membership,
    manager: Membership,
    report: Membership,
    rhythm: str | None = None,
) -> OneOnOne:
    require_same_org(org, manager, report)
    if by.pk not in (manager.pk, report.pk) and not by.is_admin:
        raise PermissionDenied(_("Only the two people in a one-on-one can open it."))
    if manager.pk == report.pk or not manages(manager, report):
        raise ValidationError(
            _("%(manager)s does not manage %(report)s.")
            % {"manager": manager.display_name, "report": report.display_name}
        )
    pair, _created = OneOnOne.objects.for_org(org).get_or_create(
        organization=org, manager=manager, report=report
    )
    if rhythm and rhythm != pair.rhythm:
        if by.pk != manager.pk and not by.is_admin:
            raise PermissionDenied(_("The manager sets the rhythm."))
        pair.rhythm = rhythm
        pair.save(update_fields=["rhythm"])
    return pair


def prepare_agenda(
    org: Organization, pair: OneOnOne, since: date | None, until: date | None = None
) -> list[dict]:
    """Agenda lines: the report's check-ins from ``since`` up to ``until`` (need help,
    then low confidence, then the rest, newest first) and open action items of the pair.

    Lines keep the key result's title; pages blank it for a viewer who may not read
    a private objective (the report always can: it is theirs).
    """
    weeks = {}
    if since:
        weeks["week__gte"] = since
    if until:
        weeks["week__lte"] = until
    checkins = list(
        CheckIn.objects.for_org(org)
        .filter(owner=pair.report, **weeks)
        .select_related("key_result__objective")
        .order_by("-week", "-updated_at")
    )

    def rank(c: CheckIn) -> int:
        if c.need_help:
            return 0
        return 1 if c.confidence <= LOW_CONFIDENCE else 2

    checkins.sort(key=rank)  # stable: newest first within each group
    lines = [
        {
            "checkin": c,
            "text": _("%(kr)s: %(value)s (confidence %(confidence)s/10)%(help)s")
            % {
                "kr": c.key_result.title,
                "value": c.value.normalize(),
                "confidence": c.confidence,
                "help": _(" — needs help") if c.need_help else "",
            },
        }
        for c in checkins
    ]
    open_items = ActionItem.objects.for_org(org).filter(meeting__one_on_one=pair, done=False)
    lines += [
        {"action_item": item, "text": _("Open action: %(text)s") % {"text": item.text}}
        for item in open_items
    ]
    return lines


@transaction.atomic
def meeting_create(*, org: Organization, by: Membership, pair: OneOnOne, on: date) -> Meeting:
    """A new meeting with its agenda prepared from what happened since the last one."""
    require_same_org(org, pair)
    if by.pk not in (pair.manager_id, pair.report_id):
        raise PermissionDenied(_("Only the two people in a one-on-one can plan it."))
    last = Meeting.objects.for_org(org).filter(one_on_one=pair).order_by("-date").first()
    since = week_start(last.date) if last else None
    meeting = Meeting.objects.create(organization=org, one_on_one=pair, date=on)
    AgendaItem.objects.bulk_create(
        [
            AgendaItem(
                organization=org,
                meeting=meeting,
                checkin=line.get("checkin"),
                action_item=line.get("action_item"),
                text=str(line["text"])[:300],
                position=i,
            )
            for i, line in enumerate(prepare_agenda(org, pair, since, until=on))
        ]
    )
    return meeting


@transaction.atomic
def meeting_update_notes(
    *,
    org: Organization,
    by: Membership,
    meeting: Meeting,
    shared_notes: str | None = None,
    private_notes: str | None = None,
) -> Meeting:
    require_same_org(org, meeting)
    pair = meeting.one_on_one
    if by.pk not in (pair.manager_id, pair.report_id):
        raise PermissionDenied(_("Only the two people in a one-on-one can write its notes."))
    fields = []
    if shared_notes is not None:
        meeting.shared_notes = shared_notes
        fields.append("shared_notes")
    if private_notes is not None:
        if by.pk != pair.manager_id:
            raise PermissionDenied(_("Private notes are the manager's."))
        meeting.private_notes = private_notes
        fields.append("private_notes")
    meeting.save(update_fields=fields)
    return meeting


@transaction.atomic
def action_item_add(
    *,
    org: Organization,
    by: Membership,
    meeting: Meeting,
    text: str,
    owner: Membership | None = None,
) -> ActionItem:
    require_same_org(org, meeting, owner)
    pair = meeting.one_on_one
    if by.pk not in (pair.manager_id, pair.report_id):
        raise PermissionDenied(_("Only the two people in a one-on-one can add actions."))
    if not text.strip():
        raise ValidationError({"text": _("Say what needs doing.")})
    return ActionItem.objects.create(
        organization=org, meeting=meeting, text=text.strip()[:300], owner=owner
    )


@transaction.atomic
def action_item_set_done(
    *, org: Organization, by: Membership, item: ActionItem, done: bool
) -> ActionItem:
    require_same_org(org, item)
    pair = item.meeting.one_on_one
    if by.pk not in (pair.manager_id, pair.report_id):
        raise PermissionDenied(_("Only the two people in a one-on-one can tick actions off."))
    item.done, item.done_at = done, timezone.now() if done else None
    item.save(update_fields=["done", "done_at"])
    return item


# --- Notification preferences and time away ----------------------------------------------------


@transaction.atomic
def notification_preferences_set(
    *, membership: Membership, reminders: bool, mentions: bool, digests: bool
) -> Membership:
    membership.notify_reminders, membership.notify_mentions = reminders, mentions
    membership.notify_digests = digests
    membership.save(update_fields=["notify_reminders", "notify_mentions", "notify_digests"])
    return membership


@transaction.atomic
def away_add(
    *, org: Organization, by: Membership, starts_on: date, ends_on: date, note: str = ""
) -> AwayPeriod:
    if ends_on < starts_on:
        raise ValidationError({"ends_on": _("The last day comes after the first.")})
    if (ends_on - starts_on).days > 366:
        raise ValidationError({"ends_on": _("Mark at most a year at a time.")})
    return AwayPeriod.objects.create(
        organization=org,
        membership=by,
        starts_on=starts_on,
        ends_on=ends_on,
        note=note.strip()[:120],
    )


@transaction.atomic
def away_delete(*, org: Organization, by: Membership, away) -> None:
    require_same_org(org, away)
    if away.membership_id != by.pk:
        raise PermissionDenied(_("That is someone else's time away."))
    away.delete()


@transaction.atomic
def notification_resend(*, org: Organization, by: Membership, claim, now=None) -> bool:
    """An admin decides a notification stuck in "sending" did not go out: send it again.

    Except a reminder or digest whose week has ended: it would only confuse, so it is given
    up instead (listed as not delivered), as the tick gives up such claims. True when it
    goes again."""
    from checkins.reminders import WEEKLY_KINDS, current_week
    from checkins.tasks import send_notifications  # tasks import this module

    require_same_org(org, claim)
    if not by.is_admin:
        raise PermissionDenied(_("Only admins can resend notifications."))
    stuck = NotificationClaim.objects.for_org(org).filter(pk=claim.pk, status=ClaimStatus.SENDING)
    if claim.kind in WEEKLY_KINDS and claim.week < current_week(org, now or timezone.now()):
        stuck.update(status=ClaimStatus.FAILED, error="")
        return False
    if stuck.update(status=ClaimStatus.CLAIMED, error="resent by an admin"):
        send_notifications.delay_on_commit(org.pk, [claim.pk])
    return True
