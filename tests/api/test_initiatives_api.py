"""Initiatives over the API: under key results the caller may edit, hidden with them."""

import pytest

from cycles import services as cycle_services
from cycles.models import Initiative
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


def test_list_detail_and_filters(as_token, carol, acme, initiative, key_result):
    client = as_token(carol)
    listed = client.get(url(acme, "initiatives/")).json()
    assert [i["id"] for i in listed["results"]] == [initiative.pk]
    detail = client.get(url(acme, f"initiatives/{initiative.pk}/")).json()
    assert detail["key_result"] == key_result.pk
    assert detail["status"] == "in_progress"
    assert client.get(url(acme, f"initiatives/?key_result={key_result.pk}")).json()["count"] == 1
    assert client.get(url(acme, "initiatives/?status=done")).json()["count"] == 0
    assert client.get(url(acme, "initiatives/?status=in_progress")).json()["count"] == 1
    response = client.get(url(acme, "initiatives/?status=finished&key_result=abc"))
    assert response.status_code == 400
    assert set(response.json()) == {"status", "key_result"}


def test_filters(
    as_token, acme, bob, carol, cycle, next_cycle, engineering, initiative, planned_kr
):
    later = cycle_services.initiative_save(
        org=acme, by=carol, key_result=planned_kr, title="Sketch it", owner=carol
    )
    client = as_token(carol)

    def ids(query):
        response = client.get(url(acme, f"initiatives/?{query}"))
        assert response.status_code == 200, response.json()
        return [i["id"] for i in response.json()["results"]]

    assert ids("") == [initiative.pk, later.pk]
    assert ids(f"cycle={cycle.pk}") == [initiative.pk]
    assert ids(f"cycle={next_cycle.pk}") == [later.pk]
    # The team and level of the key result's objective.
    assert ids("team=engineering") == [initiative.pk]
    assert ids(f"team={engineering.pk}") == [initiative.pk]
    assert ids("team=no-such-team") == []  # as for objectives: an unknown team has none
    assert ids("level=team") == [initiative.pk]
    assert ids("level=individual") == [later.pk]
    assert ids("level=company") == []
    # The initiative's own owner.
    assert ids(f"owner={carol.pk}") == [later.pk]
    assert ids(f"owner={bob.pk}") == []
    assert ids(f"cycle={next_cycle.pk}&level=individual&owner={carol.pk}") == [later.pk]
    assert ids(f"cycle={cycle.pk}&level=individual") == []
    for bad in (
        "cycle=x",
        "cycle=0",
        "cycle=99999999999999999999999",
        "owner=-1",
        "owner=1.5",
        "team=has spaces",
        "level=department",
        "level=3",
        "key_result=abc",
        "status=finished",
    ):
        response = client.get(url(acme, f"initiatives/?{bad}"))
        assert response.status_code == 400, bad
        assert list(response.json()) == [bad.split("=")[0]]
        assert response.json()[bad.split("=")[0]][0]


def test_create_update_delete(as_token, bob, carol, acme, key_result):
    client = as_token(bob)
    body = {
        "key_result": key_result.pk,
        "title": "Gearbox",
        "owner": carol.pk,
        "backlog_url": "https://tracker.example/ENG-12",
    }
    response = client.post(url(acme, "initiatives/"), body, format="json")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert response.json()["status"] == "not_started"
    assert response.json()["owner_name"] == "Carol Tsai"

    response = client.patch(url(acme, f"initiatives/{pk}/"), {"status": "done"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Gearbox"  # PATCH keeps the rest
    assert response.json()["owner"] == carol.pk

    response = client.put(url(acme, f"initiatives/{pk}/"), {"title": "Gearbox v2"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Gearbox v2"

    response = client.patch(url(acme, f"initiatives/{pk}/"), {"owner": None}, format="json")
    assert response.json()["owner"] is None

    assert client.delete(url(acme, f"initiatives/{pk}/")).status_code == 204
    assert not Initiative.objects.for_org(acme).filter(pk=pk).exists()


def test_role_table(as_token, carol, erin, alice, acme, initiative, key_result):
    for person in (carol, erin):
        client = as_token(person)
        response = client.patch(url(acme, f"initiatives/{initiative.pk}/"), {"status": "done"})
        assert response.status_code == 403
        assert client.delete(url(acme, f"initiatives/{initiative.pk}/")).status_code == 403
        body = {"key_result": key_result.pk, "title": "x"}
        assert client.post(url(acme, "initiatives/"), body, format="json").status_code == 403
    response = as_token(alice).patch(url(acme, f"initiatives/{initiative.pk}/"), {"status": "done"})
    assert response.status_code == 200


def test_bad_input(as_token, bob, acme, key_result, mallory):
    client = as_token(bob)
    for body, field in (
        ({"key_result": key_result.pk, "title": "x", "backlog_url": "not a url"}, "backlog_url"),
        ({"key_result": key_result.pk, "title": "x", "status": "someday"}, "status"),
        ({"key_result": key_result.pk, "title": ""}, "title"),
        ({"key_result": 999999, "title": "x"}, "key_result"),
        ({"key_result": key_result.pk, "title": "x", "owner": mallory.pk}, "owner"),
    ):
        response = client.post(url(acme, "initiatives/"), body, format="json")
        assert response.status_code == 400
        assert field in response.json()


def test_initiatives_of_private_objectives_are_hidden(
    as_token, erin, carol, acme, private_key_result
):
    from cycles import services as cycle_services

    hidden = cycle_services.initiative_save(
        org=acme, by=carol, key_result=private_key_result, title="Hidden work"
    )
    client = as_token(erin)
    assert client.get(url(acme, "initiatives/")).json()["count"] == 0
    assert client.get(url(acme, f"initiatives/{hidden.pk}/")).status_code == 404
    body = {"key_result": private_key_result.pk, "title": "x"}
    response = client.post(url(acme, "initiatives/"), body, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["key_result"][0]
    assert as_token(carol).get(url(acme, f"initiatives/{hidden.pk}/")).status_code == 200
