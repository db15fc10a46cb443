"""Kudos through the API: to a colleague, with the pages' messages; private subjects hidden."""

import pytest

from checkins import services
from checkins.models import Kudos
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


def test_give_kudos_and_find_them_by_receiver_and_giver(as_token, acme, bob, carol, erin, carol_kr):
    response = as_token(bob).post(
        url(acme, "kudos/"),
        {"receiver": carol.pk, "message": " Great docs! ", "key_result": carol_kr.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["giver"] == bob.pk and data["giver_name"] == "Bob Lin"
    assert data["receiver"] == carol.pk and data["receiver_name"] == "Carol Tsai"
    assert data["message"] == "Great docs!"
    assert (data["key_result"], data["objective"], data["subject_hidden"]) == (
        carol_kr.pk,
        None,
        False,
    )
    services.kudos_give(org=acme, by=carol, receiver=erin, message="Thanks for the review")
    client = as_token(erin)
    everything = client.get(url(acme, "kudos/")).json()
    assert [k["message"] for k in everything["results"]] == ["Thanks for the review", "Great docs!"]
    to_carol = client.get(url(acme, "kudos/"), {"receiver": carol.pk}).json()
    assert [k["id"] for k in to_carol["results"]] == [data["id"]]
    from_carol = client.get(url(acme, "kudos/"), {"giver": carol.pk}).json()
    assert [k["receiver"] for k in from_carol["results"]] == [erin.pk]


def test_not_to_yourself(as_token, acme, carol):
    response = as_token(carol).post(
        url(acme, "kudos/"), {"receiver": carol.pk, "message": "Me!"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"receiver": ["Kudos go to a colleague, not to yourself."]}


def test_not_to_a_former_member(as_token, acme, bob, carol):
    carol.active = False
    carol.save(update_fields=["active"])
    response = as_token(bob).post(
        url(acme, "kudos/"), {"receiver": carol.pk, "message": "Bye"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"receiver": ["Carol Tsai is no longer a member."]}


@pytest.mark.parametrize(
    ("message", "errors"),
    [
        ("  ", {"message": ["Say what you are recognising."]}),
        ("x" * 2001, {"message": ["Keep kudos under 2,000 characters."]}),
    ],
)
def test_bad_messages_are_400(as_token, acme, bob, carol, message, errors):
    response = as_token(bob).post(
        url(acme, "kudos/"), {"receiver": carol.pk, "message": message}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == errors


def test_unknown_and_foreign_receivers_are_400(as_token, acme, bob, mallory):
    client = as_token(bob)
    for receiver in (mallory.pk, 999999, "bob"):
        response = client.post(
            url(acme, "kudos/"), {"receiver": receiver, "message": "Hi"}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == ["receiver"]
    assert not Kudos.objects.for_org(acme).exists()


def test_a_private_subject_the_giver_may_not_read_is_refused(
    as_token, acme, erin, bob, private_objective, private_key_result
):
    client = as_token(erin)
    for field, pk in (("objective", private_objective.pk), ("key_result", private_key_result.pk)):
        response = client.post(
            url(acme, "kudos/"), {"receiver": bob.pk, "message": "Hi", field: pk}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == [field]
    assert not Kudos.objects.for_org(acme).exists()


def test_a_private_subject_is_hidden_from_those_who_may_not_read_it(
    as_token, acme, alice, bob, carol, erin, private_objective
):
    services.kudos_give(
        org=acme, by=carol, receiver=bob, message="Thanks", objective=private_objective
    )
    # Bob too: carol's manager, but the objective has no team he manages.
    for person in (erin, bob):
        hidden = as_token(person).get(url(acme, "kudos/")).json()["results"][0]
        assert (hidden["objective"], hidden["key_result"], hidden["subject_hidden"]) == (
            None,
            None,
            True,
        )
        assert hidden["message"] == "Thanks"
    shown = as_token(alice).get(url(acme, "kudos/")).json()["results"][0]
    assert (shown["objective"], shown["subject_hidden"]) == (private_objective.pk, False)


@pytest.mark.parametrize("query", [{"receiver": "x"}, {"giver": 999999}, {"receiver": 0}])
def test_bad_filters_are_400(as_token, acme, carol, query):
    assert as_token(carol).get(url(acme, "kudos/"), query).status_code == 400


def test_a_member_of_another_organisation_is_a_bad_filter(as_token, acme, carol, mallory):
    response = as_token(carol).get(url(acme, "kudos/"), {"receiver": mallory.pk})
    assert response.status_code == 400
    assert list(response.json()) == ["receiver"]


def test_outsiders_get_404(as_token, acme, globex, bob, carol, mallory):
    services.kudos_give(org=acme, by=bob, receiver=carol, message="Thanks")
    client = as_token(mallory)
    assert client.get(url(acme, "kudos/")).status_code == 404
    response = client.post(
        url(acme, "kudos/"), {"receiver": carol.pk, "message": "Hi"}, format="json"
    )
    assert response.status_code == 404
    assert client.get(url(globex, "kudos/")).json()["count"] == 0
    assert Kudos.objects.for_org(acme).count() == 1


def test_the_list_is_paginated_and_takes_a_constant_number_of_queries(
    as_token, acme, bob, carol, erin, carol_kr, private_objective, django_assert_max_num_queries
):
    for i in range(12):
        services.kudos_give(
            org=acme,
            by=bob if i % 2 and i % 3 != 1 else carol,  # bob may not read the private one
            receiver=erin,
            message=f"Thanks {i}",
            key_result=carol_kr if i % 3 == 0 else None,
            objective=private_objective if i % 3 == 1 else None,
        )
    client = as_token(erin)
    client.get(url(acme, "kudos/"))
    with django_assert_max_num_queries(4):
        page = client.get(url(acme, "kudos/"), {"page_size": 5}).json()
    assert page["count"] == 12
    assert [k["message"] for k in page["results"]] == [f"Thanks {i}" for i in range(11, 6, -1)]
    with django_assert_max_num_queries(4):
        everything = client.get(url(acme, "kudos/")).json()
    assert len(everything["results"]) == 12
