"""A person's ICS calendar feed: the weekly check-in slot, 1:1 meetings, cycle milestones.

The feed is read by calendar apps, which have no session: its address is the credential.
:func:`calendar_feed_create` returns the token once (only its SHA-256 is stored);
:func:`feed_for_token` finds a live feed inside the organisation the token names, or None.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from icalendar import Calendar, Event

from checkins.models import CalendarFeed, Meeting
from cycles.models import Cycle, CycleState
from okrapp.models import Membership, Organization

SLOT_MINUTES = 15
#: Cycles that ended longer ago than this drop out of the feed.
HISTORY = timedelta(days=366)
MILESTONE_STATES = (CycleState.PLANNING, CycleState.ACTIVE, CycleState.SCORING, CycleState.CLOSED)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def org_id_of(token: str) -> int | None:
    org_id, sep, random_part = token.partition("_")
    if not sep or not random_part or not org_id.isascii() or not org_id.isdigit():
        return None
    if len(org_id) > 18:
        return None
    return int(org_id)


def feed_url(token: str) -> str:
    return settings.SITE_URL + reverse("calendar_feed", kwargs={"token": token})


def live_feed(org: Organization, membership: Membership) -> CalendarFeed | None:
    return CalendarFeed.objects.for_org(org).live().filter(membership=membership).first()


@transaction.atomic
def calendar_feed_create(*, org: Organization, by: Membership) -> tuple[CalendarFeed, str]:
    """A new secret address for ``by``; the previous one (if any) stops working."""
    if by.organization_id != org.pk or not by.active:
        raise PermissionDenied(_("Only members of this organisation have a calendar here."))
    now = timezone.now()
    CalendarFeed.objects.for_org(org).filter(membership=by, revoked_at__isnull=True).update(
        revoked_at=now
    )
    token = f"{org.pk}_{secrets.token_urlsafe(32)}"
    feed = CalendarFeed.objects.create(
        organization=org, membership=by, token_hash=hash_token(token), created_at=now
    )
    return feed, token


@transaction.atomic
def calendar_feed_revoke(*, org: Organization, by: Membership) -> int:
    """Stop ``by``'s feed at once; returns how many addresses were revoked."""
    return (
        CalendarFeed.objects.for_org(org)
        .filter(membership=by, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )


def feed_for_token(token: str) -> CalendarFeed | None:
    org_id = org_id_of(token)
    if org_id is None:
        return None
    feed = (
        CalendarFeed.objects.for_org(org_id)
        .live()
        .select_related("membership__user", "organization")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if feed is not None:
        feed.membership.organization = feed.organization
    return feed


# --- The ICS document ---------------------------------------------------------------------------


def _uid(kind: str, *parts) -> str:
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return "-".join([kind, *map(str, parts)]) + f"@{host or 'okrapp'}"


def _all_day(uid: str, summary: str, day: date, stamp: datetime, url: str, desc: str = ""):
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", summary)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    event.add("url", url)
    if desc:
        event.add("description", desc)
    return event


def _first_slot(cycle: Cycle, org: Organization, tz) -> datetime:
    """The first check-in moment in the cycle: the org's weekday and hour on the person's clock."""
    ahead = (org.checkin_weekday - cycle.start_date.weekday()) % 7
    day = cycle.start_date + timedelta(days=ahead)
    return datetime.combine(day, time(org.checkin_hour), tzinfo=tz)


def checkin_slot_event(membership: Membership, cycle: Cycle, stamp: datetime) -> Event | None:
    org = membership.organization
    tz = membership.zoneinfo
    start = _first_slot(cycle, org, tz)
    if start.date() > cycle.end_date:
        return None
    # UNTIL in UTC (RFC 5545 §3.3.10 when DTSTART has a time zone): the end of the last day.
    until = datetime.combine(cycle.end_date, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
    event = Event()
    event.add("uid", _uid("checkin-slot", org.pk, cycle.pk, membership.pk))
    event.add("dtstamp", stamp)
    event.add("summary", _("Weekly check-in (%(cycle)s)") % {"cycle": cycle.name})
    event.add("description", _("Record value, confidence and a note for each of your key results."))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=SLOT_MINUTES))
    event.add("rrule", {"freq": "weekly", "until": until})
    event.add("url", settings.SITE_URL + reverse("my_week", kwargs={"org_slug": org.slug}))
    return event


def build_ics(membership: Membership, *, now: datetime | None = None) -> bytes:
    """The person's calendar, in their language and time zone (a fixed number of queries)."""
    org = membership.organization
    now = now or timezone.now()
    today = timezone.localtime(now, org.zoneinfo).date()
    with override(membership.language):
        cal = Calendar()
        cal.add("prodid", "-//okrapp//calendar feed//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        cal.add("x-wr-calname", f"{org.name} · OKRs · {membership.display_name}")
        cal.add("x-wr-timezone", membership.time_zone)

        cycles = list(
            Cycle.objects.for_org(org)
            .filter(state__in=MILESTONE_STATES, end_date__gte=today - HISTORY)
            .order_by("start_date")
        )
        for cycle in cycles:
            cycle.organization = org
            if cycle.state == CycleState.ACTIVE:
                slot = checkin_slot_event(membership, cycle, now)
                if slot is not None:
                    cal.add_component(slot)
            url = settings.SITE_URL + cycle.get_absolute_url()
            milestones = [
                ("cycle-start", _("%(cycle)s starts"), cycle.start_date),
                ("cycle-end", _("%(cycle)s ends: self-scoring opens"), cycle.end_date),
            ]
            if cycle.scoring_deadline:
                milestones.append(
                    ("scoring-deadline", _("%(cycle)s: scoring deadline"), cycle.scoring_deadline)
                )
            for kind, summary, day in milestones:
                cal.add_component(
                    _all_day(
                        _uid(kind, org.pk, cycle.pk), summary % {"cycle": cycle.name}, day, now, url
                    )
                )

        meetings = (
            Meeting.objects.for_org(org)
            .filter(
                Q(one_on_one__manager=membership) | Q(one_on_one__report=membership),
                date__gte=today - HISTORY,
            )
            .select_related("one_on_one__manager__user", "one_on_one__report__user")
            .order_by("date", "id")
        )
        for meeting in meetings:
            pair = meeting.one_on_one
            other = pair.report if pair.manager_id == membership.pk else pair.manager
            url = settings.SITE_URL + reverse(
                "one_on_one_detail", kwargs={"org_slug": org.slug, "membership_id": other.pk}
            )
            cal.add_component(
                _all_day(
                    _uid("one-on-one", org.pk, meeting.pk),
                    _("1:1 with %(name)s") % {"name": other.display_name},
                    meeting.date,
                    now,
                    url,
                )
            )
        cal.add_missing_timezones()
    return cal.to_ical()
