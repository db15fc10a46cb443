"""End-of-quarter scores through the API: the same service (and rules) as the scoring page."""

from decimal import Decimal

import pytest

from cycles import services as cycle_services
from cycles.models import CycleState, KeyResultScore
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def scoring(acme, alice, cycle, key_result, private_key_result):
    return cycle_services.cycle_transition(
        org=acme, by=alice, cycle=cycle, to_state=CycleState.SCORING
    )


def test_the_owner_scores_with_a_reflection_and_scores_again(
    as_token, bob, acme, scoring, key_result
):
    client = as_token(bob)
    refused = client.post(
        url(acme, "scores/"), {"key_result": key_result.pk, "score": "0.4"}, format="json"
    )
    assert refused.status_code == 400
    assert set(refused.json()) == {"what_to_change", "reason"}

    body = {
        "key_result": key_result.pk,
        "score": "0.4",
        "what_to_change": "Order the motor in week 1.",
        "reason": "blocked",
    }
    created = client.post(url(acme, "scores/"), body, format="json")
    assert created.status_code == 201
    data = created.json()
    assert (data["score"], data["suggested"], data["band"], data["met_expectation"]) == (
        "0.4",
        "0.4",
        "yellow",
        False,
    )
    assert (data["cycle"], data["owner"], data["scored_by"]) == (scoring.pk, bob.pk, bob.pk)

    again = client.post(url(acme, "scores/"), {**body, "score": "1.0"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    patched = client.patch(url(acme, f"scores/{data['id']}/"), {"score": "0.7"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["what_to_change"] == "Order the motor in week 1."
    assert KeyResultScore.objects.for_org(acme).get().score == Decimal("0.7")


@pytest.mark.parametrize(("score", "message"), [("1.2", "0.0 to 1.0"), ("0.75", "one decimal")])
def test_bad_scores_are_400_by_field(as_token, bob, acme, scoring, key_result, score, message):
    response = as_token(bob).post(
        url(acme, "scores/"), {"key_result": key_result.pk, "score": score}, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["score"][0]


def test_only_during_scoring_and_only_the_owner(
    as_token, alice, bob, carol, acme, cycle, key_result
):
    body = {"key_result": key_result.pk, "score": "1.0"}
    response = as_token(bob).post(url(acme, "scores/"), body, format="json")
    assert response.status_code == 400 and "not in scoring" in str(response.json())
    cycle_services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    assert as_token(carol).post(url(acme, "scores/"), body, format="json").status_code == 403
    assert not KeyResultScore.objects.for_org(acme).exists()


def test_list_filters_and_private_scores(
    as_token, alice, bob, carol, erin, acme, scoring, next_cycle, key_result, private_key_result
):
    cycle_services.score_submit(org=acme, by=bob, key_result=key_result, score=Decimal("1.0"))
    cycle_services.score_submit(
        org=acme, by=carol, key_result=private_key_result, score=Decimal("1.0")
    )
    listed = as_token(erin).get(url(acme, "scores/")).json()["results"]
    assert [s["key_result"] for s in listed] == [key_result.pk]  # the private one is left out
    everything = as_token(alice).get(url(acme, "scores/")).json()["results"]
    assert len(everything) == 2
    mine = as_token(alice).get(url(acme, f"scores/?owner={carol.pk}")).json()["results"]
    assert [s["key_result"] for s in mine] == [private_key_result.pk]
    assert as_token(alice).get(url(acme, f"scores/?cycle={next_cycle.pk}")).json()["count"] == 0
    assert as_token(alice).get(url(acme, "scores/?cycle=x")).status_code == 400


def test_another_organisation_gets_404(as_token, mallory, bob, acme, scoring, key_result):
    record = cycle_services.score_submit(
        org=acme, by=bob, key_result=key_result, score=Decimal("1.0")
    )
    client = as_token(mallory)
    assert client.get(url(acme, "scores/")).status_code == 404
    assert client.get(url(mallory.organization, f"scores/{record.pk}/")).status_code == 404
