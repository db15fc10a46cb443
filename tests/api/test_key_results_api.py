"""Key results over the API: typed decimal values as strings, progress raw and capped,
the role table, optimistic locking and filters."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cycles import services as cycle_services
from cycles.models import KeyResult, Level
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


def test_list_detail_and_decimals_as_strings(as_token, carol, acme, cycle, key_result):
    client = as_token(carol)
    listed = client.get(url(acme, "key-results/")).json()
    assert [kr["id"] for kr in listed["results"]] == [key_result.pk]
    detail = client.get(url(acme, f"key-results/{key_result.pk}/")).json()
    assert detail["cycle"] == cycle.pk
    assert detail["start_value"] == "0.0000"
    assert detail["target_value"] == "5.0000"
    assert detail["current_value"] == "2.0000"
    assert detail["weight"] == "1.00"
    assert detail["progress"] == "0.4000"
    assert detail["progress_capped"] == "0.4000"
    assert detail["progress_status"] in {"on_track", "at_risk", "behind"}


def test_the_list_costs_the_same_queries_for_two_key_results_as_for_twelve(
    as_token, alice, bob, carol, acme, cycle, team_objective, key_result
):
    """The page's objectives, cycles, teams and owners come in two queries, whatever the
    page holds."""
    client = as_token(carol)

    def listed():
        with CaptureQueriesContext(connection) as queries:
            body = client.get(url(acme, "key-results/")).json()
        return len(queries), body["results"]

    listed()  # the token's first use is recorded once
    few, results = listed()
    assert len(results) == 1
    for n, owner in enumerate([alice, bob, carol] * 4):
        cycle_services.key_result_create(
            org=acme, by=bob, objective=team_objective, title=f"KR {n}", owner=owner,
            start_value=Decimal(0), target_value=Decimal(10),
        )  # fmt: skip
    many, results = listed()
    assert len(results) == 13 and many == few
    names = {kr["owner_name"] for kr in results}
    assert names == {p.display_name for p in (alice, bob, carol)}
    assert {kr["cycle"] for kr in results} == {cycle.pk}


def test_create_with_decimals_and_overachievement(as_token, bob, acme, team_objective):
    body = {
        "objective": team_objective.pk,
        "title": "Orders 120",
        "start_value": "100",
        "target_value": 110,
        "current_value": "125.5",
        "unit": "orders",
        "weight": "2",
        "confidence": 7,
    }
    response = as_token(bob).post(url(acme, "key-results/"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["owner"] == bob.pk
    assert data["progress"] == "2.5500"  # raw
    assert data["progress_capped"] == "1.0000"
    assert data["weight"] == "2.00"
    kr = KeyResult.objects.for_org(acme).get(pk=data["id"])
    assert kr.current_value == Decimal("125.5")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_value": "abc"}, "start_value"),
        ({"start_value": "NaN"}, "start_value"),
        ({"start_value": "Infinity"}, "start_value"),
        ({"start_value": "1.123456"}, "start_value"),
        ({"target_value": "1" * 30}, "target_value"),
        ({"confidence": 11}, "confidence"),
        ({"confidence": "high"}, "confidence"),
        ({"weight": "0"}, "weight"),
        ({"kind": "feeling"}, "kind"),
        ({"direction": "sideways"}, "direction"),
        ({"objective": "x"}, "objective"),
        ({"owner": 999999}, "owner"),
        ({"target_value": "0"}, "target_value"),  # start == target: the service says why
        ({"kind": "currency", "currency": "dollars"}, "currency"),
    ],
)
def test_bad_values_are_400_by_field(changes, field, as_token, bob, acme, team_objective):
    body = {
        "objective": team_objective.pk,
        "title": "Revenue",
        "start_value": "0",
        "target_value": "10",
        **changes,
    }
    response = as_token(bob).post(url(acme, "key-results/"), body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_role_table(as_token, alice, bob, carol, erin, acme, key_result, team_objective):
    def patch(person, title):
        key_result.refresh_from_db()
        return as_token(person).patch(
            url(acme, f"key-results/{key_result.pk}/"),
            {"title": title, "version": key_result.version},
            format="json",
        )

    assert patch(carol, "x").status_code == 403
    assert patch(erin, "x").status_code == 403
    assert patch(bob, "Bob's").status_code == 200
    assert patch(alice, "Alice's").status_code == 200
    body = {"objective": team_objective.pk, "title": "y", "start_value": 0, "target_value": 1}
    assert as_token(carol).post(url(acme, "key-results/"), body, format="json").status_code == 403


def test_the_owner_of_a_kr_edits_it_even_on_someone_elses_objective(
    as_token, acme, bob, carol, team_objective
):
    kr = cycle_services.key_result_create(
        org=acme,
        by=bob,
        objective=team_objective,
        title="Carol's KR",
        owner=carol,
        start_value=Decimal(0),
        target_value=Decimal(3),
    )
    response = as_token(carol).patch(
        url(acme, f"key-results/{kr.pk}/"), {"current_value": "1.5", "version": 1}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["progress"] == "0.5000"


def test_a_stale_version_is_409(as_token, bob, alice, acme, key_result):
    assert (
        as_token(alice)
        .patch(url(acme, f"key-results/{key_result.pk}/"), {"unit": "kilos", "version": 1})
        .status_code
        == 200
    )
    response = as_token(bob).put(
        url(acme, f"key-results/{key_result.pk}/"),
        {"title": "Arm lifts 6 kg", "target_value": "6", "version": 1},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["current"]["unit"] == "kilos"
    assert response.json()["current"]["version"] == 2
    key_result.refresh_from_db()
    assert key_result.target_value == Decimal(5)


def test_version_is_required(as_token, bob, acme, key_result):
    response = as_token(bob).patch(url(acme, f"key-results/{key_result.pk}/"), {"unit": "g"})
    assert response.status_code == 400
    assert list(response.json()) == ["version"]


def test_filters(as_token, carol, bob, acme, cycle, next_cycle, key_result, team_objective):
    other = cycle_services.objective_create(
        org=acme, by=carol, cycle=next_cycle, title="Later", level=Level.INDIVIDUAL, owner=carol
    )
    later = cycle_services.key_result_create(
        org=acme, by=carol, objective=other, title="Later KR", owner=carol, kind="milestone"
    )
    client = as_token(carol)

    def ids(query):
        response = client.get(url(acme, f"key-results/?{query}"))
        assert response.status_code == 200
        return [kr["id"] for kr in response.json()["results"]]

    assert ids("") == [key_result.pk, later.pk]
    assert ids(f"cycle={cycle.pk}") == [key_result.pk]
    assert ids(f"cycle={next_cycle.pk}") == [later.pk]
    assert ids(f"objective={team_objective.pk}") == [key_result.pk]
    assert ids(f"owner={carol.pk}") == [later.pk]
    assert ids(f"owner={bob.pk}&cycle={next_cycle.pk}") == []
    assert ids("owner=") == [key_result.pk, later.pk]  # empty, as a form sends it: no filter
    # Through the objective: its team (address or id) and its level.
    assert ids("team=engineering") == [key_result.pk]
    assert ids(f"team={team_objective.team_id}") == [key_result.pk]
    assert ids("team=no-such-team") == []  # as for objectives: an unknown team has none
    assert ids("level=team") == [key_result.pk]
    assert ids("level=individual") == [later.pk]
    assert ids("level=company") == []
    assert ids(f"level=individual&cycle={cycle.pk}") == []
    assert ids(f"team=engineering&level=team&owner={bob.pk}") == [key_result.pk]
    for bad in (
        "cycle=x",
        "cycle=99999999999999999999999",
        "objective=1.5",
        "owner=-1",
        "owner=0",
        "team=has spaces",
        "team=" + "x" * 61,
        "level=department",
        "level=2",
    ):
        response = client.get(url(acme, f"key-results/?{bad}"))
        assert response.status_code == 400, bad
        assert list(response.json()) == [bad.split("=")[0]]
        assert response.json()[bad.split("=")[0]][0]


def test_delete(as_token, bob, carol, acme, key_result, team_objective):
    assert as_token(carol).delete(url(acme, f"key-results/{key_result.pk}/")).status_code == 403
    assert as_token(bob).delete(url(acme, f"key-results/{key_result.pk}/")).status_code == 204
    assert not KeyResult.objects.for_org(acme).exists()
    team_objective.refresh_from_db()
    assert team_objective.progress is None


def test_a_closed_cycle_is_frozen(as_token, alice, bob, acme, cycle, key_result):
    for state in ("scoring", "closed"):
        cycle_services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    response = as_token(bob).patch(
        url(acme, f"key-results/{key_result.pk}/"), {"current_value": 5, "version": 1}
    )
    assert response.status_code == 400
    assert "frozen" in response.json()["non_field_errors"][0]
