"""Comments through the API: one subject each, authors alone edit, private stays private."""

import pytest

from checkins import services
from checkins.models import Comment
from tests.api.conftest import url

pytestmark = pytest.mark.django_db

ONE_SUBJECT = "A comment belongs to one key result, objective or check-in."


@pytest.fixture
def checkin(acme, carol, carol_kr):
    from decimal import Decimal

    return services.checkin_record(
        org=acme, by=carol, key_result=carol_kr, value=Decimal(20), confidence=6
    )


@pytest.fixture
def secret_comment(acme, carol, private_objective):
    return services.comment_create(
        org=acme, by=carol, body="Only for bob", objective=private_objective
    )


def test_comment_on_a_key_result_with_a_mention(as_token, acme, bob, carol, carol_kr):
    response = as_token(carol).post(
        url(acme, "comments/"),
        {"body": "  @bob can you look?  ", "key_result": carol_kr.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["body"] == "@bob can you look?"
    assert data["author"] == carol.pk
    assert data["author_name"] == "Carol Tsai"
    assert (data["key_result"], data["objective"], data["checkin"]) == (carol_kr.pk, None, None)
    assert data["mentions"] == [bob.pk]
    assert data["edited_at"] is None
    listed = as_token(bob).get(url(acme, "comments/"), {"key_result": carol_kr.pk}).json()
    assert [c["id"] for c in listed["results"]] == [data["id"]]


def test_comment_on_an_objective_and_on_a_check_in(as_token, acme, bob, carol_objective, checkin):
    client = as_token(bob)
    on_objective = client.post(
        url(acme, "comments/"), {"body": "Good", "objective": carol_objective.pk}, format="json"
    )
    on_checkin = client.post(
        url(acme, "comments/"), {"body": "Well done", "checkin": checkin.pk}, format="json"
    )
    assert on_objective.status_code == on_checkin.status_code == 201
    assert on_checkin.json()["checkin"] == checkin.pk
    by_checkin = client.get(url(acme, "comments/"), {"checkin": checkin.pk}).json()
    assert [c["body"] for c in by_checkin["results"]] == ["Well done"]
    by_objective = client.get(url(acme, "comments/"), {"objective": carol_objective.pk}).json()
    assert [c["body"] for c in by_objective["results"]] == ["Good"]
    assert client.get(url(acme, "comments/")).json()["count"] == 2


@pytest.mark.parametrize("subjects", [{}, {"both": True}])
def test_exactly_one_subject(as_token, acme, carol, carol_kr, carol_objective, subjects):
    data = {"body": "Hello"}
    if subjects:
        data |= {"key_result": carol_kr.pk, "objective": carol_objective.pk}
    response = as_token(carol).post(url(acme, "comments/"), data, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [ONE_SUBJECT]}
    assert not Comment.objects.for_org(acme).exists()


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("   ", {"body": ["Write something first."]}),
        ("x" * 5001, {"body": ["Keep comments under 5,000 characters."]}),
    ],
)
def test_bad_bodies_are_400_with_the_pages_messages(as_token, acme, carol, carol_kr, text, errors):
    response = as_token(carol).post(
        url(acme, "comments/"), {"body": text, "key_result": carol_kr.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == errors


def test_a_private_objective_cannot_be_commented_on_by_those_who_may_not_read_it(
    as_token, acme, erin, private_objective, private_key_result
):
    client = as_token(erin)
    for field, pk in (("objective", private_objective.pk), ("key_result", private_key_result.pk)):
        response = client.post(url(acme, "comments/"), {"body": "Hi", field: pk}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == [field]
    assert not Comment.objects.for_org(acme).exists()


def test_comments_on_private_objectives_are_never_listed_to_others(
    as_token, acme, alice, bob, erin, private_objective, secret_comment, carol_kr
):
    services.comment_create(org=acme, by=bob, body="Public", key_result=carol_kr)
    client = as_token(erin)
    assert [c["body"] for c in client.get(url(acme, "comments/")).json()["results"]] == ["Public"]
    response = client.get(url(acme, "comments/"), {"objective": private_objective.pk})
    assert response.status_code == 400
    assert client.get(url(acme, f"comments/{secret_comment.pk}/")).status_code == 404
    patch = client.patch(url(acme, f"comments/{secret_comment.pk}/"), {"body": "x"}, format="json")
    assert patch.status_code == 404
    assert client.delete(url(acme, f"comments/{secret_comment.pk}/")).status_code == 404
    # Her manager does not (the objective has no team he manages); an admin does.
    listed = as_token(bob).get(url(acme, "comments/")).json()["results"]
    assert [c["body"] for c in listed] == ["Public"]
    listed = as_token(alice).get(url(acme, "comments/")).json()["results"]
    assert {c["body"] for c in listed} == {"Only for bob", "Public"}


@pytest.mark.parametrize(
    "query",
    [
        {"key_result": "abc"},
        {"objective": 999999},
        {"checkin": 0},
        {"key_result": "KR", "objective": "1"},
    ],
)
def test_bad_filters_are_400(as_token, acme, carol, carol_kr, query):
    response = as_token(carol).get(url(acme, "comments/"), query)
    assert response.status_code == 400


def test_two_filters_are_refused(as_token, acme, carol, carol_kr, carol_objective):
    response = as_token(carol).get(
        url(acme, "comments/"), {"key_result": carol_kr.pk, "objective": carol_objective.pk}
    )
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Filter by one of key_result, objective or checkin, not several."]
    }


def test_authors_edit_and_delete_their_own_comments_only(
    as_token, acme, alice, bob, carol, carol_kr
):
    comment = services.comment_create(org=acme, by=carol, body="First", key_result=carol_kr)
    target = url(acme, f"comments/{comment.pk}/")
    for someone in (bob, alice):  # even the manager, even an admin
        client = as_token(someone)
        response = client.patch(target, {"body": "Changed"}, format="json")
        assert response.status_code == 403
        assert response.json() == {"detail": "You can only edit your own comments."}
        response = client.delete(target)
        assert response.status_code == 403
        assert response.json() == {"detail": "You can only delete your own comments."}
    client = as_token(carol)
    assert client.patch(target, {"body": "  "}, format="json").json() == {
        "body": ["Write something first."]
    }
    response = client.patch(target, {"body": "Second"}, format="json")
    assert response.status_code == 200
    assert response.json()["body"] == "Second"
    assert response.json()["edited_at"] is not None
    assert client.put(target, {"body": "x"}, format="json").status_code == 405
    assert client.delete(target).status_code == 204
    assert not Comment.objects.for_org(acme).exists()
    assert client.get(target).status_code == 404


def test_outsiders_get_404(as_token, acme, globex, mallory, carol, carol_kr):
    comment = services.comment_create(org=acme, by=carol, body="Ours", key_result=carol_kr)
    client = as_token(mallory)
    assert client.get(url(acme, "comments/")).status_code == 404
    assert client.get(url(globex, f"comments/{comment.pk}/")).status_code == 404
    response = client.post(
        url(globex, "comments/"), {"body": "Hi", "key_result": carol_kr.pk}, format="json"
    )
    assert response.status_code == 400  # not an id of a key result in Globex
    assert Comment.objects.for_org(acme).count() == 1


def test_the_list_is_paginated(as_token, acme, carol, carol_kr):
    for i in range(3):
        services.comment_create(org=acme, by=carol, body=f"Note {i}", key_result=carol_kr)
    page = as_token(carol).get(url(acme, "comments/"), {"page_size": 2}).json()
    assert page["count"] == 3
    assert [c["body"] for c in page["results"]] == ["Note 0", "Note 1"]
    assert page["next"]
