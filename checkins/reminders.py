"""Who is due which notification now: found in bulk, claimed exactly once.

The tick (``checkins.tasks.cadence_tick_org``) calls :func:`claim_due` for one
organisation. Each kind finds its people with a fixed number of queries, filters by each
person's own clock in Python (cheap, and exact across time zones and DST), then claims
them with one ``bulk_create(ignore_conflicts=True)`` on the unique (person, week, kind,
channel) row. Only the rows this call inserted are returned, so two ticks running at once
split the work instead of doubling it.

Crashes. A claim has a lease (:func:`lease`, ten minutes unless
``NOTIFICATION_LEASE_SECONDS`` says otherwise). "claimed" past it: the task carrying it
was lost, and the tick dispatches it again (a claim is won by one worker, so a duplicate
task sends nothing twice). "sending" past it: a worker died between taking the claim and
marking it sent, and the mail may or may not have gone. :func:`recover_stuck` asks the
mail backend about the claim's ``Message-ID``; only a definite answer moves the row
(delivered → sent; not delivered → claimed, sent again under the same ``Message-ID``,
which a ledger backend refuses to deliver twice). A backend that cannot answer (SMTP)
and chat channels leave the row "sending", shown to admins (:func:`stuck_claims`).

Giving up. A claim the mail server refused :data:`MAX_ATTEMPTS` times, and one of a week
that ended before it went (:func:`give_up_ended_weeks`: a reminder or digest of last week
is noise), is "failed", never sent, and shown to admins (:func:`failed_claims`).
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from checkins.integrations import recipients_by_channel
from checkins.models import (
    AwayPeriod,
    Channel,
    CheckIn,
    ClaimStatus,
    NotificationClaim,
    NotificationKind,
)
from checkins.services import current_week
from cycles.models import Cycle, CycleState, KeyResult, KeyResultScore, ObjectiveStatus
from okrapp import mail
from okrapp.models import Membership, Organization, TeamMembership

log = logging.getLogger(__name__)

# A claim still "claimed" this long after the tick was never picked up (lost message):
# the next tick dispatches it again. "sending" this long means a worker died mid-send.
STALE_AFTER = timedelta(minutes=10)
# Attempts at one claim before it is given up. A claim whose worker died this many times is
# left to people: re-sending it again would only kill the next worker (a mail that cannot
# be built or handed over). One the mail server refused this many times is marked failed
# (``notifications.send_claims``): else each tick's lost-claim sweep would send it again,
# forever.
MAX_ATTEMPTS = 5
# The kinds about one week's check-ins: once the week is over they are never sent (the next
# week has its own). A scoring request is not bound to its week.
WEEKLY_KINDS = (
    NotificationKind.CHECKIN_REMINDER,
    NotificationKind.MANAGER_DIGEST,
    NotificationKind.MASTER_SUMMARY,
    NotificationKind.SCORING_REMINDER,
)
# Failed claims are shown to admins for this long.
FAILED_SHOWN_FOR = timedelta(weeks=4)


def lease() -> timedelta:
    """How long a claim may stay "claimed" or "sending" before the tick acts on it. Far
    longer than any send takes; ``NOTIFICATION_LEASE_SECONDS`` shortens it (tests)."""
    seconds = getattr(settings, "NOTIFICATION_LEASE_SECONDS", None)
    return STALE_AFTER if seconds is None else timedelta(seconds=seconds)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def week_bounds(org: Organization, week: date) -> tuple[datetime, datetime]:
    """When the organisation's ISO week of ``week`` starts and ends (Monday 00:00 to the
    next Monday 00:00 on the organisation's clock), in UTC."""
    start = datetime.combine(week, time(0), tzinfo=org.zoneinfo)
    end = datetime.combine(week + timedelta(weeks=1), time(0), tzinfo=org.zoneinfo)
    return start.astimezone(UTC), end.astimezone(UTC)


def checkin_moment(org: Organization, week: date, time_zone: str) -> datetime:
    """When the person's reminder of the organisation's week ``week`` is due: the
    organisation's check-in weekday and hour on the person's own clock, the latest such
    moment before the week ends.

    Taken on the dates of the week, it can fall after the week's end for someone west of
    the organisation (Taipei checks in on Sunday at 20:00; Sunday 20:00 in Los Angeles is
    Monday noon in Taipei, the next week), and would never come: then it is the same
    weekday and hour seven days earlier. Someone far east may get a moment before the week
    starts; they are due from its start. An hour the clock skips (summer time) comes when
    the clock jumps over it; an hour it repeats, the first time (``fold=0``).
    """
    zone = _zone(time_zone)
    day = week + timedelta(days=org.checkin_weekday)
    moment = datetime.combine(day, time(org.checkin_hour), tzinfo=zone)
    if moment.astimezone(UTC) >= week_bounds(org, week)[1]:
        moment = datetime.combine(day - timedelta(weeks=1), time(org.checkin_hour), tzinfo=zone)
    return moment


def escalation_moment(org: Organization, week: date, time_zone: str) -> datetime:
    """When the digests of the organisation's week ``week`` are due for someone: the grace
    period after their check-in moment, but in the week at the latest.

    Saturday + 2 days is Monday of the next week, whose own digest is a week away; so the
    digest comes in the week's last hour instead (Sunday 23:00 on the organisation's
    clock), after the check-in moment (a moment in that very hour escalates at once)."""
    moment = checkin_moment(org, week, time_zone)
    day = moment.date() + timedelta(days=org.escalation_grace_days)
    after_grace = datetime.combine(day, moment.time(), tzinfo=moment.tzinfo).astimezone(UTC)
    last_hour = week_bounds(org, week)[1] - timedelta(hours=1)
    return max(moment.astimezone(UTC), min(after_grace, last_hour))


def _cycle(org: Organization, state: str) -> Cycle | None:
    return Cycle.objects.for_org(org).filter(state=state).first()


def _pilot_filter(org: Organization, cycle: Cycle, people):
    """In pilot mode, only members of the pilot teams."""
    if not cycle.is_pilot:
        return people
    team_ids = list(cycle.pilot_links.values_list("team_id", flat=True))
    on_pilot = TeamMembership.objects.for_org(org).filter(
        team_id__in=team_ids, membership=OuterRef("pk")
    )
    return people.filter(Exists(on_pilot))


def away_until(org: Organization, rows: list[tuple[int, str]], now: datetime) -> dict[int, date]:
    """Members whose own calendar shows them away today, with the last day they are away."""
    ids = [pk for pk, _tz in rows]
    if not ids:
        return {}
    utc_day = now.date()
    periods = (
        AwayPeriod.objects.for_org(org)
        .filter(
            membership_id__in=ids,
            starts_on__lte=utc_day + timedelta(days=1),
            ends_on__gte=utc_day - timedelta(days=1),
        )
        .values_list("membership_id", "starts_on", "ends_on")
    )
    zones = dict(rows)
    away = {}
    for pk, starts, ends in periods:
        today = now.astimezone(_zone(zones[pk])).date()
        if starts <= today <= ends:
            away[pk] = max(ends, away.get(pk, ends))
    return away


def _away_today(org: Organization, rows: list[tuple[int, str]], now: datetime) -> set[int]:
    return set(away_until(org, rows, now))


def _at_their_moment(org, rows, week, now, moment=checkin_moment) -> list[int]:
    return [pk for pk, tz in rows if now >= moment(org, week, tz)]


def _open_krs(org: Organization, cycle: Cycle, week: date):
    """KRs of the cycle without a check-in this week."""
    checked = CheckIn.objects.for_org(org).filter(key_result=OuterRef("pk"), week=week)
    return (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .filter(~Exists(checked))
    )


def due_checkin_reminders(org: Organization, now: datetime) -> list[int]:
    cycle = _cycle(org, CycleState.ACTIVE)
    if cycle is None:
        return []
    week = current_week(org, now)
    people = (
        Membership.objects.for_org(org)
        .active()
        .filter(notify_reminders=True, pk__in=_open_krs(org, cycle, week).values("owner_id"))
    )
    rows = list(_pilot_filter(org, cycle, people).values_list("id", "time_zone"))
    away = _away_today(org, rows, now)
    return [pk for pk in _at_their_moment(org, rows, week, now) if pk not in away]


def due_manager_digests(org: Organization, now: datetime) -> list[int]:
    """Managers of reports who own KRs in the active cycle (on a pilot team, in pilot mode),
    once the grace period is over."""
    cycle = _cycle(org, CycleState.ACTIVE)
    if cycle is None:
        return []
    week = current_week(org, now)
    owners = KeyResult.objects.for_org(org).in_cycle(cycle).values("owner_id")
    reports = _pilot_filter(
        org, cycle, Membership.objects.for_org(org).active().filter(pk__in=owners)
    )
    people = (
        Membership.objects.for_org(org)
        .active()
        .filter(notify_digests=True, pk__in=reports.values("manager_id"))
    )
    rows = list(people.values_list("id", "time_zone"))
    return _at_their_moment(org, rows, week, now, moment=escalation_moment)


def due_master_summaries(org: Organization, now: datetime) -> list[int]:
    cycle = _cycle(org, CycleState.ACTIVE)
    if cycle is None:
        return []
    week = current_week(org, now)
    people = (
        Membership.objects.for_org(org).active().filter(notify_digests=True, is_okr_master=True)
    )
    rows = list(people.values_list("id", "time_zone"))
    return _at_their_moment(org, rows, week, now, moment=escalation_moment)


def scoring_owners(org: Organization, cycle: Cycle, *, unscored_only: bool):
    krs = (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
    )
    if unscored_only:
        scored = KeyResultScore.objects.for_org(org).filter(key_result=OuterRef("pk"))
        krs = krs.filter(~Exists(scored))
    people = Membership.objects.for_org(org).active().filter(pk__in=krs.values("owner_id"))
    return _pilot_filter(org, cycle, people)


def due_scoring_reminders(org: Organization, now: datetime) -> list[int]:
    """Owners with unscored KRs while a cycle is in scoring, weekly at their moment,
    except in the week their scoring request went out."""
    cycle = _cycle(org, CycleState.SCORING)
    if cycle is None:
        return []
    week = current_week(org, now)
    asked = (
        NotificationClaim.objects.for_org(org)
        .filter(kind=NotificationKind.SCORING_REQUEST, week=week)
        .values("membership_id")
    )
    people = scoring_owners(org, cycle, unscored_only=True).filter(notify_reminders=True)
    rows = list(people.exclude(pk__in=asked).values_list("id", "time_zone"))
    away = _away_today(org, rows, now)
    return [pk for pk in _at_their_moment(org, rows, week, now) if pk not in away]


DUE = {
    NotificationKind.CHECKIN_REMINDER: due_checkin_reminders,
    NotificationKind.MANAGER_DIGEST: due_manager_digests,
    NotificationKind.MASTER_SUMMARY: due_master_summaries,
    NotificationKind.SCORING_REMINDER: due_scoring_reminders,
}


def claim(
    org: Organization,
    membership_ids: Iterable[int],
    week: date,
    kind: str,
    channel: str = "email",
    now: datetime | None = None,
) -> list[int]:
    """Insert claims; return the ids of the rows *this* call created."""
    ids = list(membership_ids)
    if not ids:
        return []
    batch = uuid.uuid4().hex
    NotificationClaim.objects.bulk_create(
        [
            NotificationClaim(
                organization=org,
                membership_id=pk,
                week=week,
                kind=kind,
                channel=channel,
                batch=batch,
                claimed_at=now or timezone.now(),
            )
            for pk in ids
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return list(
        NotificationClaim.objects.for_org(org).filter(batch=batch).values_list("id", flat=True)
    )


def give_up_ended_weeks(
    org: Organization, now: datetime, claim_ids: Iterable[int] | None = None
) -> int:
    """Mark failed the claims still waiting to go whose week ended before they went (all
    of ``org``'s, or those of ``claim_ids``): a reminder or digest of a past week would
    only confuse. Their ``error`` is cleared: what admins see is that the week ended."""
    waiting = NotificationClaim.objects.for_org(org).filter(
        status=ClaimStatus.CLAIMED, kind__in=WEEKLY_KINDS, week__lt=current_week(org, now)
    )
    if claim_ids is not None:
        waiting = waiting.filter(pk__in=list(claim_ids))
    given_up = waiting.update(status=ClaimStatus.FAILED, error="")
    if given_up:
        log.warning("%s: %s notification(s) of an ended week given up", org.slug, given_up)
    return given_up


def claim_due(org: Organization, now: datetime | None = None) -> list[int]:
    """Every notification due now in ``org``, claimed; plus lost claims to dispatch again,
    except those whose week has ended (given up)."""
    now = now or timezone.now()
    week = current_week(org, now)
    give_up_ended_weeks(org, now)
    claimed = []
    for kind, find in DUE.items():
        # Mail as before; Slack and Teams too for those who chose them (same unique row,
        # one per channel).
        for channel, ids in recipients_by_channel(org, kind, find(org, now)).items():
            claimed += claim(org, ids, week, kind, channel=channel, now=now)
    lost = (
        NotificationClaim.objects.for_org(org)
        .filter(status=ClaimStatus.CLAIMED, claimed_at__lt=now - lease())
        .exclude(pk__in=claimed)
    )
    return claimed + list(lost.values_list("id", flat=True))


def stuck_claims(org: Organization, now: datetime | None = None):
    """Claims a worker began to send and never finished, and that :func:`recover_stuck`
    could not settle: the mail may or may not have gone, so they are shown to people
    rather than sent again."""
    now = now or timezone.now()
    return (
        NotificationClaim.objects.for_org(org)
        .filter(Q(status=ClaimStatus.SENDING) & Q(sending_at__lt=now - lease()))
        .select_related("membership__user")
    )


def failed_claims(org: Organization, now: datetime | None = None):
    """Claims given up in the last weeks (refused :data:`MAX_ATTEMPTS` times, or their
    week ended first; ``error`` says which): shown to admins beside the stuck ones."""
    now = now or timezone.now()
    return (
        NotificationClaim.objects.for_org(org)
        .filter(status=ClaimStatus.FAILED, week__gte=current_week(org, now) - FAILED_SHOWN_FOR)
        .select_related("membership__user")
        .order_by("-claimed_at", "-id")
    )


@dataclass
class Recovery:
    sent: int = 0  # delivered before the worker died: marked sent
    requeued: int = 0  # provably not delivered: claimed again
    unknown: int = 0  # the mail backend cannot tell: left to people


def recover_stuck(org: Organization, now: datetime | None = None) -> Recovery:
    """Settle the mails of claims left "sending" past the lease, where that is provable.

    The mail backend is asked about each claim's ``Message-ID``: delivered → "sent";
    not delivered → "claimed" again (the tick's lost-claim sweep dispatches it). Each move
    is a conditional UPDATE on "still sending since before the cutoff", so a claim a live
    worker finished, or took again, in the meantime is left alone. Should a worker that was
    merely slow deliver after the answer "not delivered", the re-send carries the same
    ``Message-ID`` and the ledger backend refuses the second copy. A backend without a
    ledger (SMTP) cannot answer: nothing moves, :func:`stuck_claims` reports the rows.
    """
    now = now or timezone.now()
    cutoff = now - lease()
    stuck = list(
        NotificationClaim.objects.for_org(org)
        .filter(
            status=ClaimStatus.SENDING,
            sending_at__lt=cutoff,
            channel=Channel.EMAIL,
            attempts__lt=MAX_ATTEMPTS,
        )
        .only("id", "batch")
    )
    result = Recovery()
    if not stuck:
        return result
    answer = mail.delivered(c.message_id for c in stuck)
    if answer is None:
        result.unknown = len(stuck)
        return result
    still_sending = NotificationClaim.objects.for_org(org).filter(
        status=ClaimStatus.SENDING, sending_at__lt=cutoff
    )
    done = [c.pk for c in stuck if c.message_id in answer]
    missing = [c.pk for c in stuck if c.message_id not in answer]
    if done:
        result.sent = still_sending.filter(pk__in=done).update(
            status=ClaimStatus.SENT, sent_at=now, error=""
        )
    if missing:
        result.requeued = still_sending.filter(pk__in=missing).update(
            status=ClaimStatus.CLAIMED,
            error="A worker stopped before the mail was delivered; sending it again.",
        )
    log.info(
        "%s: of %s notification(s) stuck in sending, %s had been delivered, %s go again",
        org.slug,
        len(stuck),
        result.sent,
        result.requeued,
    )
    return result
