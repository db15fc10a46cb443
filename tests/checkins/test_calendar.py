"""The ICS feed: a secret, revocable address with the check-in slot, 1:1s and milestones."""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from icalendar import Calendar

from checkins import calendar
from checkins import services as cadence
from checkins.models import CalendarFeed
from cycles import services as okr

pytestmark = pytest.mark.django_db


def _url(token):
    return reverse("calendar_feed", kwargs={"token": token})


def _events(response):
    cal = Calendar.from_ical(response.content)
    return {str(e["summary"]): e for e in cal.walk("VEVENT")}


def test_a_person_makes_a_feed_and_sees_the_address_once(client, login, acme, carol):
    login(carol)
    page = reverse("notification_settings", kwargs={"org_slug": acme.slug})
    response = client.post(reverse("calendar_feed_create", kwargs={"org_slug": acme.slug}))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    url = re.search(r'id="calendar-url"[^>]*value="([^"]+)"', response.content.decode()).group(1)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert token.startswith(f"{acme.pk}_")
    feed = CalendarFeed.objects.for_org(acme).get(membership=carol)
    assert feed.token_hash == calendar.hash_token(token) and token not in feed.token_hash
    # Shown once: the settings page knows a feed exists, not its address.
    again = client.get(page).content.decode()
    assert token not in again and "Revoke" in again


def test_feed_holds_the_weekly_slot_one_on_ones_and_milestones(
    client, acme, alice, bob, carol, cycle, engineering
):
    acme.checkin_weekday, acme.checkin_hour = 2, 9  # Wednesday 09:00
    acme.save()
    carol.time_zone = "Asia/Taipei"
    carol.save()
    okr.cycle_update(
        org=acme,
        by=alice,
        cycle=cycle,
        name=cycle.name,
        start_date=cycle.start_date,
        end_date=cycle.end_date,
        is_pilot=False,
        scoring_deadline=date(2027, 1, 10),
    )
    pair = cadence.one_on_one_get_or_create(org=acme, by=bob, manager=bob, report=carol)
    meeting = cadence.meeting_create(org=acme, by=bob, pair=pair, on=date(2026, 10, 8))
    cadence.meeting_update_notes(
        org=acme, by=bob, meeting=meeting, shared_notes="shared", private_notes="PRIVATE-NOTE"
    )
    _feed, token = calendar.calendar_feed_create(org=acme, by=carol)

    response = client.get(_url(token))  # no session: a calendar app

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert b"PRIVATE-NOTE" not in response.content
    events = _events(response)
    slot = events["Weekly check-in (2026 Q4)"]
    start = slot.decoded("dtstart")
    # 1 Oct 2026 is a Thursday: the first Wednesday is 7 Oct, 09:00 on carol's clock.
    assert start == datetime(2026, 10, 7, 9, tzinfo=ZoneInfo("Asia/Taipei"))
    assert str(slot["dtstart"].params["TZID"]) == "Asia/Taipei"
    assert slot["rrule"]["FREQ"] == ["WEEKLY"]
    assert slot["rrule"]["UNTIL"][0].date() == date(2026, 12, 31)
    assert events["1:1 with Bob Lin"].decoded("dtstart") == date(2026, 10, 8)
    assert events["2026 Q4 starts"].decoded("dtstart") == date(2026, 10, 1)
    assert events["2026 Q4 ends: self-scoring opens"].decoded("dtstart") == date(2026, 12, 31)
    assert events["2026 Q4: scoring deadline"].decoded("dtstart") == date(2027, 1, 10)
    assert b"BEGIN:VTIMEZONE" in response.content and b"TZID:Asia/Taipei" in response.content
    # The manager's own feed shows the same meeting from his side.
    _f, bob_token = calendar.calendar_feed_create(org=acme, by=bob)
    assert "1:1 with Carol Tsai" in _events(client.get(_url(bob_token)))


def test_no_weekly_slot_without_an_active_cycle(client, acme, alice, carol):
    okr.cycle_create(
        org=acme, by=alice, name="Draft", start_date=date(2027, 1, 1), end_date=date(2027, 3, 31)
    )
    _f, token = calendar.calendar_feed_create(org=acme, by=carol)
    response = client.get(_url(token))
    assert response.status_code == 200
    assert b"BEGIN:VEVENT" not in response.content  # drafts are not announced either


def test_revoked_replaced_unknown_and_foreign_tokens_are_404(
    client, login, acme, globex, carol, mallory
):
    _f, old = calendar.calendar_feed_create(org=acme, by=carol)
    _f, new = calendar.calendar_feed_create(org=acme, by=carol)
    assert client.get(_url(old)).status_code == 404  # replaced
    assert client.get(_url(new)).status_code == 200
    # A token naming another organisation does not match there.
    assert client.get(_url(f"{globex.pk}_{new.split('_', 1)[1]}")).status_code == 404
    for junk in ("nope", "_", "12_", "x_abc", "99999999999999999999_abc"):
        assert client.get(_url(junk)).status_code == 404, junk
    login(carol)
    response = client.post(reverse("calendar_feed_revoke", kwargs={"org_slug": acme.slug}))
    assert response.status_code == 302
    assert client.get(_url(new)).status_code == 404


def test_a_deactivated_member_s_feed_stops(client, acme, carol):
    _f, token = calendar.calendar_feed_create(org=acme, by=carol)
    carol.active = False
    carol.save()
    assert client.get(_url(token)).status_code == 404


def test_outsiders_get_404_on_the_feed_settings(client, login, acme, carol, mallory):
    login(mallory)
    for name in ("calendar_feed_create", "calendar_feed_revoke"):
        assert client.post(reverse(name, kwargs={"org_slug": acme.slug})).status_code == 404
    assert not CalendarFeed.objects.for_org(acme).exists()


def test_calendar_is_a_reserved_organisation_address():
    from okrapp.models import RESERVED_SLUGS

    assert "calendar" in RESERVED_SLUGS
