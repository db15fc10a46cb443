"""The manager's acknowledgement queue, and the reply the report sees on My week."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from checkins import services
from checkins.models import Acknowledgement
from cycles import services as okr
from cycles.models import Level
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(org, name="ack_queue", **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def weeks_ago(n):
    return timezone.now() - timedelta(weeks=n)


def check_in(org, kr, value, confidence, *, weeks=0, need_help=False, note="", by=None):
    return services.checkin_record(
        org=org,
        by=by or kr.owner,
        key_result=kr,
        value=D(value),
        confidence=confidence,
        note=note,
        need_help=need_help,
        now=weeks_ago(weeks),
    )


def key_result_of(org, person, cycle, title, *, private=False):
    objective = okr.objective_create(
        org=org,
        by=person,
        cycle=cycle,
        level=Level.INDIVIDUAL,
        owner=person,
        title=f"Objective of {title}",
        visibility="private" if private else "public",
    )
    return okr.key_result_create(
        org=org,
        by=person,
        objective=objective,
        owner=person,
        title=title,
        start_value=D(0),
        target_value=D(100),
    )


def test_the_queue_lists_reports_check_ins_need_help_first_with_the_confidence_change(
    client, login, acme, bob, carol, kr, kr2
):
    check_in(acme, kr, 28, 6, weeks=1)
    check_in(acme, kr, 25, 8, weeks=0, note="FAQ is live")
    check_in(acme, kr2, 55, 3, weeks=0, need_help=True, note="Blocked on the test rig")
    login(bob)
    response = client.get(url(acme))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("Blocked on the test rig") < body.index("FAQ is live")
    assert "needs help" in body
    assert "up 2" in body  # 6 → 8
    assert "first check-in" in body  # kr2 has no earlier one
    assert "was 28" in body
    assert "3 waiting" in body


def test_acknowledged_and_older_check_ins_are_not_in_the_queue(
    client, login, acme, bob, carol, kr, kr2
):
    old = check_in(acme, kr, 29, 5, weeks=5, note="five weeks ago")
    seen = check_in(acme, kr, 26, 5, weeks=1, note="already seen")
    check_in(acme, kr2, 55, 5, weeks=0, note="still waiting")
    services.checkin_acknowledge(org=acme, by=bob, checkin=seen)
    login(bob)
    body = client.get(url(acme)).content.decode()
    assert "still waiting" in body
    assert "already seen" not in body and "five weeks ago" not in body
    assert old.pk  # it exists; it is simply too old for the queue


def test_acknowledging_from_the_queue_returns_to_it_and_the_report_sees_the_reply(
    client, login, acme, bob, carol, kr
):
    checkin = check_in(acme, kr, 25, 7, note="FAQ is live")
    login(bob)
    back = url(acme) + f"?acknowledged={checkin.pk}"
    response = client.post(
        url(acme, "checkin_acknowledge", checkin_id=checkin.pk),
        {"reply": "Nice progress", "next": back},
    )
    assert response.status_code == 302 and response.url == back
    ack = Acknowledgement.objects.for_org(acme).get(checkin=checkin)
    assert ack.by == bob and ack.reply == "Nice progress"
    page = client.get(back).content.decode()
    assert "FAQ is live" not in page and "All caught up" in page

    login(carol)
    my_week = client.get(url(acme, "my_week")).content.decode()
    assert "Seen by Bob Lin" in my_week and "“Nice progress”" in my_week


def test_with_htmx_the_redirect_answers_with_the_acknowledged_row_only(
    client, login, acme, bob, carol, kr
):
    checkin = check_in(acme, kr, 25, 7)
    login(bob)
    client.post(
        url(acme, "checkin_acknowledge", checkin_id=checkin.pk),
        {"reply": "Thanks!", "next": url(acme) + f"?acknowledged={checkin.pk}"},
        HTTP_HX_REQUEST="true",
    )
    row = client.get(url(acme), {"acknowledged": checkin.pk}, HTTP_HX_REQUEST="true")
    body = row.content.decode()
    assert row.status_code == 200
    assert "<html" not in body and f'id="ack-{checkin.pk}"' in body
    assert "Acknowledged." in body and "“Thanks!”" in body
    # The flash was shown by the row; the next full page does not repeat it.
    page = client.get(url(acme)).content.decode()
    assert 'class="flashes" role="status"' not in page and "Acknowledged." not in page


def test_the_htmx_row_is_only_for_the_managers_own_reports(client, login, acme, alice, bob, kr):
    checkin = check_in(acme, kr, 25, 7)
    login(alice)  # an admin, but carol is not her report
    row = client.get(url(acme), {"acknowledged": checkin.pk}, HTTP_HX_REQUEST="true")
    assert row.status_code == 404
    assert client.get(url(acme), {"acknowledged": "x"}, HTTP_HX_REQUEST="true").status_code == 404


def test_team_leads_see_their_team_members_check_ins(
    client, login, acme, alice, bob, cycle, engineering
):
    frank = MembershipFactory(
        organization=acme,
        user=UserFactory(email="frank@acme.example", full_name="Frank Lee"),
        manager=alice,
    )
    engineering.team_memberships.create(organization=acme, membership=frank)
    kr = key_result_of(acme, frank, cycle, "Rig uptime from 0 to 100")
    check_in(acme, kr, 40, 6, note="Rig is back")
    login(bob)
    assert "Rig is back" in client.get(url(acme)).content.decode()


def test_a_private_objective_stays_private_in_the_queue(client, login, acme, bob, carol, cycle):
    secret = key_result_of(acme, carol, cycle, "Secret metric from 0 to 100", private=True)
    check_in(acme, secret, 10, 5, note="secret note")
    login(bob)  # her manager, but not a manager of a team the objective belongs to
    body = client.get(url(acme)).content.decode()
    assert "Secret metric" not in body and "secret note" not in body


def test_people_without_reports_get_403_and_outsiders_404(client, login, acme, carol, mallory):
    login(carol)
    assert client.get(url(acme)).status_code == 403
    login(mallory)
    assert client.get(url(acme)).status_code == 404


def test_a_manager_with_nobody_waiting_sees_an_empty_queue(client, login, acme, bob):
    login(bob)
    response = client.get(url(acme))
    assert response.status_code == 200 and "All caught up" in response.content.decode()


def test_my_week_shows_last_weeks_reply_but_not_older_ones(
    client, login, acme, bob, carol, kr, kr2
):
    last_week = check_in(acme, kr, 28, 6, weeks=1)
    older = check_in(acme, kr2, 52, 6, weeks=2)
    services.checkin_acknowledge(org=acme, by=bob, checkin=last_week, reply="Keep going")
    services.checkin_acknowledge(org=acme, by=bob, checkin=older, reply="Old news")
    login(carol)
    body = client.get(url(acme, "my_week")).content.decode()
    assert "“Keep going”" in body and "Old news" not in body


@pytest.mark.parametrize("reports", [2, 20])
def test_query_count_does_not_grow_with_reports(
    client, login, acme, bob, cycle, reports, django_assert_max_num_queries
):
    for i in range(reports):
        person = MembershipFactory(
            organization=acme,
            user=UserFactory(email=f"report{i}@acme.example", full_name=f"Report {i}"),
            manager=bob,
        )
        kr = key_result_of(acme, person, cycle, f"Metric {i} from 0 to 100")
        check_in(acme, kr, 10, 5, weeks=1)
        check_in(acme, kr, 20, 6 + i % 3, weeks=0, need_help=i % 4 == 0)
    login(bob)
    with django_assert_max_num_queries(8):
        response = client.get(url(acme))
    assert response.status_code == 200
    assert response.content.decode().count('<li class="ack-item') == 2 * reports


def test_the_navigation_links_the_cadence_pages(client, login, acme, bob, carol):
    login(carol)
    page = client.get(url(acme, "my_week")).content.decode()
    assert url(acme, "one_on_one_list") in page and url(acme, "kudos_feed") in page
    assert url(acme) not in page  # no reports, no queue
    login(bob)
    assert url(acme) in client.get(url(acme, "my_week")).content.decode()


# --- A reply that cannot be taken -----------------------------------------------------------------

TOO_LONG = "Great work on the FAQ! " * 100  # 2,300 characters; the reply takes 2,000
TOO_LONG_MESSAGE = "Ensure this value has at most 2000 characters (it has 2299)."  # stripped


@pytest.mark.parametrize("sent_from", ["queue", "queue-htmx", "key-result-page"])
def test_a_reply_too_long_is_refused_kept_and_nothing_is_acknowledged(
    sent_from, client, login, acme, bob, carol, kr
):
    """It used to be dropped silently, and the check-in marked as seen without it."""
    checkin = check_in(acme, kr, 25, 7, note="FAQ is live")
    login(bob)
    data = {"reply": TOO_LONG}
    if sent_from.startswith("queue"):
        data["next"] = url(acme) + f"?acknowledged={checkin.pk}"
    extra = {"HTTP_HX_REQUEST": "true"} if sent_from == "queue-htmx" else {}
    response = client.post(url(acme, "checkin_acknowledge", checkin_id=checkin.pk), data, **extra)
    assert response.status_code == 400
    body = response.content.decode()
    assert TOO_LONG_MESSAGE in body
    assert f'value="{TOO_LONG}"' in body  # the reply as typed, in the form it came from
    if sent_from == "queue-htmx":
        assert "<html" not in body and f'id="ack-{checkin.pk}"' in body
    elif sent_from == "queue":
        assert "To acknowledge" in body and f'id="ack-reply-{checkin.pk}"' in body
    else:
        assert f'id="ack-{checkin.pk}"' in body and "Burn-up" in body
    assert not Acknowledgement.objects.for_org(acme).exists()
    # Shortened, it goes through.
    ok = client.post(
        url(acme, "checkin_acknowledge", checkin_id=checkin.pk), {"reply": TOO_LONG[:2000]}
    )
    assert ok.status_code == 302
    assert Acknowledgement.objects.for_org(acme).get().reply == TOO_LONG[:2000].strip()


def test_someone_who_may_not_acknowledge_is_refused_whatever_the_reply(
    client, login, acme, bob, carol, erin, kr
):
    checkin = check_in(acme, kr, 25, 7)
    login(erin)
    ack = url(acme, "checkin_acknowledge", checkin_id=checkin.pk)
    assert client.post(ack, {"reply": TOO_LONG}).status_code == 403
    assert client.post(ack, {"reply": "ok"}).status_code == 403
    assert not Acknowledgement.objects.for_org(acme).exists()
