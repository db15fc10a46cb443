"""Check-ins through the API: the same rules and messages as the key result page."""

from datetime import timedelta
from decimal import Decimal

import pytest

from checkins import services
from checkins.models import Acknowledgement, CheckIn
from cycles import services as cycle_services
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


def checkins_url(org, kr):
    return url(org, f"key-results/{kr.pk}/check-ins/")


def body(**extra):
    return {"value": "20", "confidence": 7, "note": "Docs rewritten", **extra}


def test_the_owner_checks_in_and_reads_it_back(as_token, acme, carol, carol_kr):
    client = as_token(carol)
    response = client.post(checkins_url(acme, carol_kr), body(need_help=True), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    checkin = CheckIn.objects.for_org(acme).get()
    assert data["id"] == checkin.pk
    assert data["key_result"] == carol_kr.pk
    assert data["week"] == checkin.week.isoformat()
    assert data["week_label"] == checkin.week_label
    assert Decimal(data["value"]) == Decimal(20) and isinstance(data["value"], str)
    assert data["confidence"] == 7
    assert data["note"] == "Docs rewritten"
    assert data["need_help"] is True
    assert data["recorded_by"] == data["owner"] == carol.pk
    assert data["on_behalf"] is False
    assert data["revision"] == 1
    assert data["acknowledgement"] is None
    carol_kr.refresh_from_db()
    assert carol_kr.current_value == Decimal(20)

    listed = client.get(checkins_url(acme, carol_kr)).json()
    assert listed["count"] == 1
    assert listed["results"][0] == data


def test_checking_in_again_the_same_week_revises(as_token, acme, carol, carol_kr):
    client = as_token(carol)
    client.post(checkins_url(acme, carol_kr), body(), format="json")
    response = client.post(
        checkins_url(acme, carol_kr), body(value="18", revision=1), format="json"
    )
    assert response.status_code == 200
    assert response.json()["revision"] == 2
    assert Decimal(response.json()["value"]) == Decimal(18)
    assert CheckIn.objects.for_org(acme).count() == 1


def test_a_stale_revision_is_a_409_with_the_current_values(as_token, acme, bob, carol, carol_kr):
    as_token(carol).post(checkins_url(acme, carol_kr), body(), format="json")
    as_token(bob).post(checkins_url(acme, carol_kr), body(value="19", revision=1), format="json")
    response = as_token(carol).post(
        checkins_url(acme, carol_kr), body(value="15", revision=1), format="json"
    )
    assert response.status_code == 409
    data = response.json()
    assert data["code"] == "conflict"
    assert "changed since you opened the page" in data["detail"]
    assert data["current"]["revision"] == 2
    assert Decimal(data["current"]["value"]) == Decimal(19)
    assert CheckIn.objects.for_org(acme).get().value == Decimal(19)


def test_revision_zero_means_none_yet(as_token, acme, carol, carol_kr):
    client = as_token(carol)
    first = client.post(checkins_url(acme, carol_kr), body(revision=0), format="json")
    assert first.status_code == 201
    again = client.post(checkins_url(acme, carol_kr), body(revision=0), format="json")
    assert again.status_code == 409
    assert again.json()["current"]["id"] == first.json()["id"]


def test_the_manager_checks_in_on_behalf(as_token, acme, bob, carol, carol_kr):
    response = as_token(bob).post(checkins_url(acme, carol_kr), body(), format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["recorded_by"] == bob.pk
    assert data["owner"] == carol.pk
    assert data["on_behalf"] is True


def test_someone_else_may_read_but_not_check_in(as_token, acme, erin, carol_kr):
    client = as_token(erin)
    response = client.post(checkins_url(acme, carol_kr), body(), format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the key result's owner or their manager can check in."
    }
    assert client.get(checkins_url(acme, carol_kr)).status_code == 200
    # Refused before the body is looked at, as on the page.
    response = client.post(checkins_url(acme, carol_kr), body(confidence=99), format="json")
    assert response.status_code == 403
    assert not CheckIn.objects.for_org(acme).exists()


def test_a_private_objectives_key_result_is_404_to_those_who_may_not_read_it(
    as_token, acme, alice, bob, carol, erin, private_key_result
):
    services.checkin_record(
        org=acme, by=carol, key_result=private_key_result, value=Decimal(3), confidence=5
    )
    # Erin, and bob: carol's manager, who manages no team of the objective (it has none).
    for person in (erin, bob):
        client = as_token(person)
        for response in (
            client.get(checkins_url(acme, private_key_result)),
            client.post(checkins_url(acme, private_key_result), body(), format="json"),
        ):
            assert response.status_code == 404
            assert response.json() == {"detail": "Not found."}
    assert CheckIn.objects.for_org(acme).count() == 1
    # An admin reads it, as on the pages.
    assert as_token(alice).get(checkins_url(acme, private_key_result)).json()["count"] == 1


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"value": "abc"}, {"value": ["Enter a number, e.g. 42 or 3.5."]}),
        ({"confidence": 11}, {"confidence": ["Confidence is from 1 to 10."]}),
        ({"confidence": 0}, {"confidence": ["Confidence is from 1 to 10."]}),
        ({"confidence": "high"}, {"confidence": ["Confidence is a whole number from 1 to 10."]}),
        ({"value": None}, {"value": ["This field may not be null."]}),
        ({"revision": -1}, {"revision": ["Ensure this value is greater than or equal to 0."]}),
    ],
)
def test_bad_values_are_400_by_field(as_token, acme, carol, carol_kr, change, errors):
    response = as_token(carol).post(checkins_url(acme, carol_kr), body(**change), format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not CheckIn.objects.for_org(acme).exists()


def test_missing_fields_are_400(as_token, acme, carol, carol_kr):
    response = as_token(carol).post(checkins_url(acme, carol_kr), {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"value", "confidence"}


def test_a_cycle_that_is_not_active_takes_no_check_ins(as_token, acme, carol, planned_kr):
    response = as_token(carol).post(checkins_url(acme, planned_kr), body(), format="json")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            "Next quarter is not active; check-ins are taken only in the active cycle."
        ]
    }
    assert not CheckIn.objects.for_org(acme).exists()


def test_a_closed_cycle_takes_no_check_ins_and_keeps_its_values(
    as_token, acme, alice, carol, cycle, carol_kr
):
    client = as_token(carol)
    assert client.post(checkins_url(acme, carol_kr), body(), format="json").status_code == 201
    for state in ("scoring", "closed"):
        cycle_services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    # A new check-in, and a revision of this week's: both refused, with the reason.
    for attempt in (body(value="12"), body(value="25", note="Later")):
        response = client.post(checkins_url(acme, carol_kr), attempt, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "non_field_errors": [
                "Current quarter is closed; its values are frozen and can no longer change."
            ]
        }
    checkin = CheckIn.objects.for_org(acme).get()
    assert checkin.value == Decimal(20)
    carol_kr.refresh_from_db()
    assert carol_kr.current_value == Decimal(20)


def test_unknown_and_foreign_key_results_are_404(as_token, acme, globex, carol, mallory, carol_kr):
    client = as_token(carol)
    assert client.get(url(acme, "key-results/999999/check-ins/")).status_code == 404
    assert client.get(url(acme, f"key-results/{10**30}/check-ins/")).status_code == 404
    # Another organisation's member, also through their own organisation's address.
    outsider = as_token(mallory)
    assert outsider.get(checkins_url(acme, carol_kr)).status_code == 404
    assert outsider.get(checkins_url(globex, carol_kr)).status_code == 404
    response = outsider.post(checkins_url(globex, carol_kr), body(), format="json")
    assert response.status_code == 404
    assert not CheckIn.objects.for_org(acme).exists()


def test_anonymous_is_401(api, acme, carol_kr):
    assert api.get(checkins_url(acme, carol_kr)).status_code == 401


def _history(acme, bob, carol, kr, weeks: int):
    """``weeks`` check-ins on ``kr``, one a week back from this one; every other acknowledged."""
    monday = services.current_week(acme)
    rows = CheckIn.objects.bulk_create(
        [
            CheckIn(
                organization=acme,
                key_result=kr,
                week=monday - timedelta(weeks=i),
                value=Decimal(30 - i % 20),
                confidence=1 + i % 10,
                recorded_by=carol if i % 3 else bob,
                owner=carol,
            )
            for i in range(weeks)
        ]
    )
    Acknowledgement.objects.bulk_create(
        [
            Acknowledgement(organization=acme, checkin=row, by=bob, reply=f"Seen {i}")
            for i, row in enumerate(rows)
            if i % 2 == 0
        ]
    )
    return rows


def test_the_list_is_newest_first_with_acknowledgements_and_pages(
    as_token, acme, bob, carol, carol_kr
):
    rows = _history(acme, bob, carol, carol_kr, 5)
    client = as_token(carol)
    first = client.get(checkins_url(acme, carol_kr), {"page_size": 2}).json()
    assert first["count"] == 5
    assert [item["id"] for item in first["results"]] == [rows[0].pk, rows[1].pk]
    assert first["results"][0]["acknowledgement"]["by"] == bob.pk
    assert first["results"][0]["acknowledgement"]["reply"] == "Seen 0"
    assert first["results"][1]["acknowledgement"] is None
    assert first["results"][0]["on_behalf"] is True  # recorded by bob
    third = client.get(first["next"]).json()
    third = client.get(third["next"]).json()
    assert [item["id"] for item in third["results"]] == [rows[4].pk]
    assert third["next"] is None
    bad = client.get(checkins_url(acme, carol_kr), {"page": 9})
    assert bad.status_code == 404


@pytest.mark.parametrize("weeks", [3, 30])
def test_the_list_takes_a_constant_number_of_queries(
    as_token, acme, bob, carol, carol_kr, weeks, django_assert_max_num_queries
):
    _history(acme, bob, carol, carol_kr, weeks)
    client = as_token(carol)
    client.get(checkins_url(acme, carol_kr))  # the token's last use is written once
    # token, key result, count, page (acknowledgements joined): the same for 3 and 30
    with django_assert_max_num_queries(4):
        response = client.get(checkins_url(acme, carol_kr))
    assert response.json()["count"] == weeks
    assert len(response.json()["results"]) == weeks
