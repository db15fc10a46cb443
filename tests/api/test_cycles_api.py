"""Cycles over the API: everyone reads, admins write, through cycles.services."""

from datetime import date, timedelta

import pytest

from cycles import services as cycle_services
from cycles.models import Cycle, CycleState, CycleTransition, KeyResult
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


def test_list_and_detail(as_token, carol, acme, cycle, next_cycle):
    client = as_token(carol)
    response = client.get(url(acme, "cycles/"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [c["name"] for c in body["results"]] == ["Next quarter", "Current quarter"]
    current = client.get(url(acme, f"cycles/{cycle.pk}/")).json()
    assert current["state"] == "active"
    assert current["next_states"] == ["scoring"]
    assert current["start_date"] == cycle.start_date.isoformat()
    assert current["expected_progress"].count(".") == 1  # a decimal, as a string


def test_filter_by_state(as_token, carol, acme, cycle, next_cycle):
    client = as_token(carol)
    assert [c["id"] for c in client.get(url(acme, "cycles/?state=active")).json()["results"]] == [
        cycle.pk
    ]
    assert client.get(url(acme, "cycles/?state=closed")).json()["count"] == 0
    response = client.get(url(acme, "cycles/?state=finished"))
    assert response.status_code == 400
    assert response.json() == {"state": ['"finished" is not a valid choice.']}


def test_admin_creates_a_cycle(as_token, alice, acme, engineering):
    body = {
        "name": "FY31 Q1",
        "start_date": "2031-01-01",
        "end_date": "2031-03-31",
        "is_pilot": True,
        "pilot_teams": [engineering.pk],
    }
    response = as_token(alice).post(url(acme, "cycles/"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["state"] == "draft"
    assert data["pilot_teams"] == [engineering.pk]
    assert Cycle.objects.for_org(acme).get(pk=data["id"]).is_pilot


@pytest.mark.parametrize("person", ["bob", "carol", "erin"])
def test_only_admins_write_cycles(person, request, as_token, acme, cycle):
    client = as_token(request.getfixturevalue(person))
    body = {"name": "Mine", "start_date": "2031-01-01", "end_date": "2031-03-31"}
    assert client.post(url(acme, "cycles/"), body, format="json").status_code == 403
    response = client.patch(url(acme, f"cycles/{cycle.pk}/"), {"name": "Renamed"}, format="json")
    assert response.status_code == 403
    response = client.post(url(acme, f"cycles/{cycle.pk}/transition/"), {"to_state": "scoring"})
    assert response.status_code == 403
    cycle.refresh_from_db()
    assert (cycle.name, cycle.state) == ("Current quarter", "active")


def test_the_services_rules_come_back_as_field_messages(as_token, alice, acme, cycle):
    client = as_token(alice)
    body = {"name": "Current quarter", "start_date": "2031-03-01", "end_date": "2031-01-01"}
    response = client.post(url(acme, "cycles/"), body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name", "end_date"}


def test_wrong_types_and_unknown_teams_are_400(as_token, alice, acme, mallory, globex):
    from tests.factories import TeamFactory

    globex_team = TeamFactory(organization=globex, name="Globex team")
    client = as_token(alice)
    body = {
        "name": ["not", "a", "string"],
        "start_date": "yesterday",
        "end_date": 12,
        "is_pilot": "perhaps",
        "pilot_teams": [globex_team.pk],
    }
    response = client.post(url(acme, "cycles/"), body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"name", "start_date", "end_date", "is_pilot", "pilot_teams"}
    assert "does not exist" in errors["pilot_teams"][0]


def test_put_and_patch(as_token, alice, acme, next_cycle):
    client = as_token(alice)
    response = client.patch(
        url(acme, f"cycles/{next_cycle.pk}/"), {"name": "Q-next"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Q-next"
    assert response.json()["start_date"] == next_cycle.start_date.isoformat()
    body = {
        "name": "Q-next (moved)",
        "start_date": (next_cycle.start_date + timedelta(days=1)).isoformat(),
        "end_date": next_cycle.end_date.isoformat(),
    }
    response = client.put(url(acme, f"cycles/{next_cycle.pk}/"), body, format="json")
    assert response.status_code == 200
    next_cycle.refresh_from_db()
    assert next_cycle.name == "Q-next (moved)"
    # PUT needs every required field.
    response = client.put(url(acme, f"cycles/{next_cycle.pk}/"), {"name": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"start_date", "end_date"}


def test_cycles_are_not_deleted_over_the_api(as_token, alice, acme, next_cycle):
    response = as_token(alice).delete(url(acme, f"cycles/{next_cycle.pk}/"))
    assert response.status_code == 405


def test_transition_is_recorded_and_checked(as_token, alice, acme, next_cycle):
    client = as_token(alice)
    response = client.post(
        url(acme, f"cycles/{next_cycle.pk}/transition/"), {"to_state": "planning"}
    )
    assert response.status_code == 200
    assert response.json()["state"] == "planning"
    transition = CycleTransition.objects.for_org(acme).get(cycle=next_cycle)
    assert (transition.to_state, transition.by) == ("planning", alice)

    response = client.post(url(acme, f"cycles/{next_cycle.pk}/transition/"), {"to_state": "closed"})
    assert response.status_code == 400
    assert response.json() == {"to_state": ["A cycle in Planning cannot move to Closed."]}
    response = client.post(url(acme, f"cycles/{next_cycle.pk}/transition/"), {"to_state": "gone"})
    assert response.status_code == 400
    assert "to_state" in response.json()


def test_activation_needs_mission_and_vision(as_token, alice, acme, next_cycle):
    acme.mission = ""
    acme.save(update_fields=["mission"])
    cycle_services.cycle_transition(org=acme, by=alice, cycle=next_cycle, to_state="planning")
    response = as_token(alice).post(
        url(acme, f"cycles/{next_cycle.pk}/transition/"), {"to_state": "active"}
    )
    assert response.status_code == 400
    assert "mission and vision" in response.json()["to_state"][0]


def test_carry_over(as_token, alice, acme, cycle, next_cycle, key_result):
    client = as_token(alice)
    response = client.post(
        url(acme, f"cycles/{next_cycle.pk}/carry-over/"), {"from_cycle": cycle.pk}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 1
    copy = KeyResult.objects.for_org(acme).get(pk=body["key_results"][0])
    assert copy.carried_from == key_result
    assert copy.objective.cycle == next_cycle
    # Twice copies nothing twice; another organisation's or an unknown cycle is a 400.
    again = client.post(url(acme, f"cycles/{next_cycle.pk}/carry-over/"), {"from_cycle": cycle.pk})
    assert again.json()["count"] == 0
    response = client.post(url(acme, f"cycles/{next_cycle.pk}/carry-over/"), {"from_cycle": 999999})
    assert response.status_code == 400
    assert "does not exist" in response.json()["from_cycle"][0]


def test_carry_over_into_a_running_cycle_is_refused(as_token, alice, acme, cycle, next_cycle):
    response = as_token(alice).post(
        url(acme, f"cycles/{cycle.pk}/carry-over/"), {"from_cycle": next_cycle.pk}
    )
    assert response.status_code == 400
    assert "draft or planning" in response.json()["non_field_errors"][0]


def test_transition_of_a_closed_cycle(as_token, alice, acme, cycle):
    for state in (CycleState.SCORING, CycleState.CLOSED):
        cycle_services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    response = as_token(alice).patch(url(acme, f"cycles/{cycle.pk}/"), {"name": "x"})
    assert response.status_code == 400
    assert "closed" in response.json()["non_field_errors"][0]


def test_pagination(as_token, alice, acme):
    for n in range(5):
        cycle_services.cycle_create(
            org=acme,
            by=alice,
            name=f"C{n}",
            start_date=date(2030 + n, 1, 1),
            end_date=date(2030 + n, 3, 31),
        )
    client = as_token(alice)
    first = client.get(url(acme, "cycles/?page_size=2")).json()
    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert "page=2" in first["next"]
    third = client.get(url(acme, "cycles/?page_size=2&page=3")).json()
    assert [c["name"] for c in third["results"]] == ["C0"]
    assert third["next"] is None
    assert client.get(url(acme, "cycles/?page=9")).status_code == 404
    assert client.get(url(acme, "cycles/?page=abc")).status_code == 404
    everything = client.get(url(acme, "cycles/?page_size=100000")).json()
    assert len(everything["results"]) == 5
