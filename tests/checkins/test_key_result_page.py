"""The KR page: check-in timeline with revisions, burn-up, check-in on behalf, comments."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from checkins import services
from checkins.models import CheckIn, Comment

pytestmark = pytest.mark.django_db


def kr_url(org, kr, name="key_result_detail"):
    return reverse(name, kwargs={"org_slug": org.slug, "kr_id": kr.pk})


def test_the_timeline_shows_values_revisions_and_who(client, login, acme, bob, carol, kr):
    services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(26), confidence=6, note="First pass"
    )
    services.checkin_record(
        org=acme,
        by=bob,
        key_result=kr,
        value=D(24),
        confidence=7,
        note="Corrected",
        expected_revision=1,
    )
    login(carol)
    body = client.get(kr_url(acme, kr)).content.decode()
    assert "Corrected" in body
    assert "recorded by Bob Lin on behalf of Carol Tsai" in body
    assert "Revised once" in body and "First pass" in body
    assert 'role="img"' in body and "<desc" in body
    assert "Check in for this week" not in body  # there is one: revise it
    assert "Revise this week" in body


def test_a_manager_checks_in_on_behalf_from_the_page(client, login, acme, bob, kr):
    login(bob)
    page = client.get(kr_url(acme, kr)).content.decode()
    assert "on behalf of Carol Tsai" in page
    response = client.post(
        kr_url(acme, kr, "key_result_checkin"),
        {"value": "23", "confidence": "6", "note": "Via 1:1", "revision": "0"},
    )
    assert response.status_code == 302
    checkin = CheckIn.objects.for_org(acme).get()
    assert checkin.recorded_by == bob and checkin.owner.pk == kr.owner_id


def test_refusals_keep_the_input(client, login, acme, carol, erin, kr):
    login(carol)
    response = client.post(
        kr_url(acme, kr, "key_result_checkin"),
        {"value": "lots", "confidence": "12", "note": "keep me", "revision": "0"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "keep me" in body and 'value="lots"' in body
    login(erin)
    assert (
        client.post(
            kr_url(acme, kr, "key_result_checkin"),
            {"value": "1", "confidence": "5", "revision": "0"},
        ).status_code
        == 403
    )


def test_comment_on_a_key_result_mentions_and_edit_own(client, login, acme, bob, carol, kr):
    login(carol)
    response = client.post(kr_url(acme, kr, "key_result_comment"), {"body": "@bob help?"})
    assert response.status_code == 302
    comment = Comment.objects.for_org(acme).get()
    assert list(comment.mentions.all()) == [bob]
    page = client.get(kr_url(acme, kr)).content.decode()
    assert "@bob help?" in page and "Edit or delete" in page
    empty = client.post(kr_url(acme, kr, "key_result_comment"), {"body": "  "})
    assert empty.status_code == 400
    login(bob)
    forbidden = client.post(
        reverse("comment_edit", kwargs={"org_slug": "acme", "comment_id": comment.pk}),
        {"body": "hijack"},
    )
    assert forbidden.status_code == 403


def test_private_objective_pages_are_404_for_others(client, login, acme, carol, erin, cycle):
    from cycles import services as okr

    private = okr.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        level=3,
        owner=carol,
        title="Secret plan",
        visibility="private",
    )
    login(erin)
    url = reverse("objective_detail", kwargs={"org_slug": "acme", "objective_id": private.pk})
    assert client.get(url).status_code == 404
    assert (
        client.post(
            reverse("objective_comment", kwargs={"org_slug": "acme", "objective_id": private.pk}),
            {"body": "peek"},
        ).status_code
        == 404
    )
    login(carol)
    assert "Conversation" in client.get(url).content.decode()
