"""One-on-ones: the list, the page of a pair, meetings, notes, rhythm and action items."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from checkins import services
from checkins.models import ActionItem, Meeting, OneOnOne
from cycles import services as okr
from cycles.models import Level
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(org, name, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def pair_url(org, other, name="one_on_one_detail"):
    return url(org, name, membership_id=other.pk)


def open_pair(org, manager, report, **extra):
    return services.one_on_one_get_or_create(
        org=org, by=manager, manager=manager, report=report, **extra
    )


def meet(org, pair, on=None, by=None):
    return services.meeting_create(
        org=org, by=by or pair.manager, pair=pair, on=on or timezone.localdate()
    )


# --- The list ------------------------------------------------------------------------------------


def test_a_manager_sees_each_report_and_their_own_manager(
    client, login, acme, alice, bob, carol, erin
):
    pair = open_pair(acme, bob, carol, rhythm="monthly")
    meet(acme, pair, on=timezone.localdate() - timedelta(days=40))
    login(bob)
    response = client.get(url(acme, "one_on_one_list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "With your reports" in body and "Carol Tsai" in body and "Erin Huang" in body
    assert "Monthly" in body and "Due since" in body  # 40 days ago, monthly
    assert "With your manager" in body and "Alice Chen" in body
    assert pair_url(acme, carol) in body and pair_url(acme, alice) in body


def test_a_member_sees_only_the_pair_with_their_manager(client, login, acme, bob, carol):
    login(carol)
    body = client.get(url(acme, "one_on_one_list")).content.decode()
    assert "With your reports" not in body
    assert "Bob Lin" in body and pair_url(acme, bob) in body


# --- Who may open a pair ------------------------------------------------------------------------


def test_both_people_of_a_pair_open_it_and_nobody_else(
    client, login, acme, alice, bob, carol, erin, mallory
):
    login(bob)
    assert client.get(pair_url(acme, carol)).status_code == 200
    login(carol)
    page = client.get(pair_url(acme, bob))
    assert page.status_code == 200 and "1:1 with Bob Lin" in page.content.decode()
    login(erin)  # a colleague
    assert client.get(pair_url(acme, carol)).status_code == 404
    login(alice)  # an admin, but not carol's manager: a pair is two people's
    assert client.get(pair_url(acme, carol)).status_code == 404
    assert client.get(pair_url(acme, alice)).status_code == 404  # oneself
    login(mallory)
    assert client.get(pair_url(acme, carol)).status_code == 404
    login(bob)
    assert client.get(pair_url(acme, mallory)).status_code == 404


def test_a_team_lead_has_a_pair_with_the_teams_members(
    client, login, acme, alice, bob, engineering
):
    frank = MembershipFactory(
        organization=acme, user=UserFactory(full_name="Frank Lee"), manager=alice
    )
    engineering.team_memberships.create(organization=acme, membership=frank)
    login(bob)
    assert client.get(pair_url(acme, frank)).status_code == 200
    assert "Frank Lee" in client.get(url(acme, "one_on_one_list")).content.decode()


# --- Meetings and their agenda ------------------------------------------------------------------


def test_a_new_meeting_has_its_agenda_need_help_first_then_low_confidence(
    client, login, acme, bob, carol, kr, kr2, objective
):
    kr3 = okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Docs pages from 0 to 20",
        start_value=D(0),
        target_value=D(20),
    )
    services.checkin_record(org=acme, by=carol, key_result=kr, value=D(25), confidence=8)
    services.checkin_record(org=acme, by=carol, key_result=kr2, value=D(55), confidence=3)
    services.checkin_record(
        org=acme, by=carol, key_result=kr3, value=D(2), confidence=6, need_help=True
    )
    login(bob)
    preview = client.get(pair_url(acme, carol)).content.decode()
    assert "Plan the first one" in preview
    day = timezone.localdate() + timedelta(days=2)
    response = client.post(
        pair_url(acme, carol, "one_on_one_meeting_create"), {"date": day.isoformat()}
    )
    meeting = Meeting.objects.for_org(acme).get()
    assert response.status_code == 302 and response.url.endswith(f"#meeting-{meeting.pk}")
    assert meeting.date == day and meeting.one_on_one.manager == bob
    lines = [item.text for item in meeting.agenda.all()]
    assert lines[0].startswith(kr3.title) and "needs help" in lines[0]
    assert lines[1].startswith(kr2.title) and lines[2].startswith(kr.title)
    body = client.get(pair_url(acme, carol)).content.decode()
    assert body.index(kr3.title) < body.index(kr2.title) < body.index(kr.title)
    assert "Upcoming" in body


def test_open_action_items_carry_into_the_next_agenda_and_the_preview(
    client, login, acme, bob, carol
):
    pair = open_pair(acme, bob, carol)
    first = meet(acme, pair, on=timezone.localdate() - timedelta(days=7))
    services.action_item_add(org=acme, by=bob, meeting=first, text="Book the test rig")
    login(carol)
    body = client.get(pair_url(acme, bob)).content.decode()
    assert "Its agenda will list" in body and "Open action: Book the test rig" in body
    client.post(pair_url(acme, bob, "one_on_one_meeting_create"), {"date": date.today()})
    latest = Meeting.objects.for_org(acme).order_by("-date", "-id").first()
    assert [i.text for i in latest.agenda.all()] == ["Open action: Book the test rig"]


def test_a_bad_date_is_refused_and_kept(client, login, acme, bob, carol):
    login(bob)
    response = client.post(
        pair_url(acme, carol, "one_on_one_meeting_create"), {"date": "next tuesday"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "The meeting was not added" in body and 'value="next tuesday"' in body
    assert not Meeting.objects.for_org(acme).exists()


def test_a_private_key_result_is_blanked_in_the_managers_agenda(
    client, login, acme, bob, carol, cycle
):
    secret = okr.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        level=Level.INDIVIDUAL,
        owner=carol,
        title="Secret",
        visibility="private",
    )
    secret_kr = okr.key_result_create(
        org=acme,
        by=carol,
        objective=secret,
        owner=carol,
        title="Interview elsewhere",
        start_value=D(0),
        target_value=D(3),
    )
    services.checkin_record(org=acme, by=carol, key_result=secret_kr, value=D(1), confidence=5)
    meet(acme, open_pair(acme, bob, carol))
    login(bob)
    body = client.get(pair_url(acme, carol)).content.decode()
    assert "Interview elsewhere" not in body and "private key result" in body
    login(carol)
    assert "Interview elsewhere" in client.get(pair_url(acme, bob)).content.decode()


# --- Notes ---------------------------------------------------------------------------------------


def test_private_notes_are_the_managers_alone(client, login, acme, bob, carol):
    meeting = meet(acme, open_pair(acme, bob, carol))
    notes = url(acme, "meeting_notes", meeting_id=meeting.pk)
    login(bob)
    response = client.post(notes, {"shared_notes": "Agreed on docs", "private_notes": "Tired?"})
    assert response.status_code == 302
    assert "Tired?" in client.get(pair_url(acme, carol)).content.decode()
    login(carol)
    page = client.get(pair_url(acme, bob)).content.decode()
    assert "Agreed on docs" in page and "Tired?" not in page and "private_notes" not in page
    assert client.post(notes, {"shared_notes": "x", "private_notes": "mine"}).status_code == 403
    response = client.post(notes, {"shared_notes": "Agreed on docs and demos"})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.shared_notes == "Agreed on docs and demos"
    assert meeting.private_notes == "Tired?"


def test_notes_save_with_htmx_and_refuse_too_long_text(client, login, acme, bob, carol):
    meeting = meet(acme, open_pair(acme, bob, carol))
    notes = url(acme, "meeting_notes", meeting_id=meeting.pk)
    login(bob)
    ok = client.post(notes, {"shared_notes": "Short"}, HTTP_HX_REQUEST="true")
    body = ok.content.decode()
    assert ok.status_code == 200 and "<html" not in body and "Saved" in body
    too_long = "x" * 20001
    bad = client.post(notes, {"shared_notes": too_long}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and too_long in bad.content.decode()
    full = client.post(notes, {"shared_notes": too_long})
    assert full.status_code == 400 and "The notes were not saved" in full.content.decode()


def test_only_the_two_people_touch_a_meeting(client, login, acme, bob, carol, erin, alice, mallory):
    meeting = meet(acme, open_pair(acme, bob, carol))
    item = services.action_item_add(org=acme, by=bob, meeting=meeting, text="Rig")
    for person in (erin, alice, mallory):
        login(person)
        assert (
            client.post(
                url(acme, "meeting_notes", meeting_id=meeting.pk), {"shared_notes": "hi"}
            ).status_code
            == 404
        )
        assert (
            client.post(
                url(acme, "meeting_action_item_add", meeting_id=meeting.pk), {"text": "x"}
            ).status_code
            == 404
        )
        assert (
            client.post(url(acme, "action_item_done", item_id=item.pk), {"done": "1"}).status_code
            == 404
        )
    meeting.refresh_from_db()
    item.refresh_from_db()
    assert meeting.shared_notes == "" and not item.done
    assert ActionItem.objects.for_org(acme).count() == 1


# --- Rhythm ------------------------------------------------------------------------------------


def test_the_manager_sets_the_rhythm(client, login, acme, bob, carol):
    login(carol)
    assert (
        client.post(pair_url(acme, bob, "one_on_one_rhythm"), {"rhythm": "monthly"}).status_code
        == 403
    )
    login(bob)
    bad = client.post(pair_url(acme, carol, "one_on_one_rhythm"), {"rhythm": "daily"})
    assert bad.status_code == 400 and "The rhythm was not changed" in bad.content.decode()
    ok = client.post(pair_url(acme, carol, "one_on_one_rhythm"), {"rhythm": "biweekly"})
    assert ok.status_code == 302
    assert OneOnOne.objects.for_org(acme).get(manager=bob, report=carol).rhythm == "biweekly"
    login(carol)
    assert "Bob Lin meets you: every two weeks." in client.get(pair_url(acme, bob)).content.decode()


# --- Action items ------------------------------------------------------------------------------


def test_add_and_tick_off_action_items_with_and_without_htmx(client, login, acme, bob, carol):
    meeting = meet(acme, open_pair(acme, bob, carol))
    add = url(acme, "meeting_action_item_add", meeting_id=meeting.pk)
    login(carol)
    response = client.post(add, {"text": "Share interview notes", "owner": carol.pk})
    assert response.status_code == 302
    item = ActionItem.objects.for_org(acme).get()
    assert item.owner == carol and not item.done
    partial = client.post(add, {"text": "Book the rig"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in body and "Book the rig" in body
    empty = client.post(add, {"text": ""}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400 and "errorlist" in empty.content.decode()
    stranger = client.post(add, {"text": "x", "owner": 999999})
    assert stranger.status_code == 400

    done = url(acme, "action_item_done", item_id=item.pk)
    ticked = client.post(done, {"done": "1"}, HTTP_HX_REQUEST="true")
    assert ticked.status_code == 200 and "checked" in ticked.content.decode()
    item.refresh_from_db()
    assert item.done and item.done_at
    login(bob)
    assert client.post(done, {}).status_code == 302  # unticked: open again
    item.refresh_from_db()
    assert not item.done


# --- Queries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 20])
def test_query_counts_do_not_grow_with_meetings_or_reports(
    client, login, acme, bob, carol, kr, n, django_assert_max_num_queries
):
    pair = open_pair(acme, bob, carol)
    for i in range(n):
        services.checkin_record(
            org=acme, by=carol, key_result=kr, value=D(20 + i % 5), confidence=5
        )
        meeting = meet(acme, pair, on=timezone.localdate() - timedelta(days=7 * (n - i)))
        services.action_item_add(org=acme, by=bob, meeting=meeting, text=f"Action {i}", owner=carol)
        MembershipFactory(organization=acme, user=UserFactory(), manager=bob)
    login(bob)
    with django_assert_max_num_queries(13):
        page = client.get(pair_url(acme, carol))
    assert page.status_code == 200
    assert page.content.decode().count('<li class="action-item') == n
    with django_assert_max_num_queries(8):
        listing = client.get(url(acme, "one_on_one_list"))
    assert listing.content.decode().count('class="row"') == n + 2  # reports, carol, alice
