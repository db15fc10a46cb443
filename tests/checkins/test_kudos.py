"""Kudos: the organisation's feed, each person's page, and giving one."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from checkins import services
from checkins.models import Kudos
from cycles import services as okr
from cycles.models import Level

pytestmark = pytest.mark.django_db


def url(org, name="kudos_feed", **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def give(org, by, to, message, **subject):
    return services.kudos_give(org=org, by=by, receiver=to, message=message, **subject)


@pytest.fixture
def secret(acme, carol, cycle):
    """Carol's private objective: only she, admins and its team's managers read it."""
    return okr.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        level=Level.INDIVIDUAL,
        owner=carol,
        title="Secret side project",
        visibility="private",
    )


def test_the_feed_lists_kudos_newest_first_with_what_they_were_for(
    client, login, acme, bob, carol, erin, kr
):
    give(acme, bob, carol, "First thanks")
    give(acme, erin, carol, "Second thanks", key_result=kr)
    login(erin)
    response = client.get(url(acme))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("Second thanks") < body.index("First thanks")
    assert kr.title in body and kr.get_absolute_url() in body
    assert url(acme, "person_kudos", membership_id=carol.pk) in body


def test_the_feed_pages_by_thirty(client, login, acme, bob, carol):
    for i in range(31):
        give(acme, bob, carol, f"Thanks number {i:02d}.")
    login(carol)
    first = client.get(url(acme)).content.decode()
    second = client.get(url(acme), {"page": 2}).content.decode()
    assert "Thanks number 30." in first and "Thanks number 00." not in first
    assert "Thanks number 00." in second and "Page 2 of 2" in second


def test_giving_kudos_with_a_key_result(client, login, acme, bob, carol, kr):
    login(bob)
    response = client.post(
        url(acme, "kudos_give"),
        {"receiver": carol.pk, "message": "The FAQ cut help requests!", "key_result": kr.pk},
    )
    assert response.status_code == 302 and response.url == url(acme)
    kudos = Kudos.objects.for_org(acme).get()
    assert (kudos.giver, kudos.receiver, kudos.key_result) == (bob, carol, kr)
    assert "Kudos sent to Carol Tsai." in client.get(url(acme)).content.decode()


def test_giving_from_a_person_page_returns_there(client, login, acme, bob, carol):
    login(bob)
    back = url(acme, "person_kudos", membership_id=carol.pk)
    response = client.post(
        url(acme, "kudos_give"), {"receiver": carol.pk, "message": "Thanks", "next": back}
    )
    assert response.status_code == 302 and response.url == back
    elsewhere = client.post(
        url(acme, "kudos_give"),
        {"receiver": carol.pk, "message": "Thanks", "next": "https://evil.example/"},
    )
    assert elsewhere.url == url(acme)


def test_bad_input_is_refused_with_messages_and_kept(client, login, acme, bob, carol):
    login(bob)
    response = client.post(url(acme, "kudos_give"), {"receiver": carol.pk, "message": "  "})
    assert response.status_code == 400
    body = response.content.decode()
    assert "The kudos was not sent" in body
    assert f'<option value="{carol.pk}" selected>' in body
    assert not Kudos.objects.for_org(acme).exists()


def test_kudos_to_oneself_or_to_another_organisation_are_refused(
    client, login, acme, bob, carol, mallory
):
    login(bob)
    to_self = client.post(url(acme, "kudos_give"), {"receiver": bob.pk, "message": "Me!"})
    foreign = client.post(url(acme, "kudos_give"), {"receiver": mallory.pk, "message": "Hi"})
    assert to_self.status_code == foreign.status_code == 400
    assert "Me!" in to_self.content.decode()  # what was typed is kept
    assert not Kudos.objects.for_org(acme).exists()


def test_a_key_result_and_an_objective_at_once_are_refused(
    client, login, acme, bob, carol, kr, objective
):
    login(bob)
    response = client.post(
        url(acme, "kudos_give"),
        {"receiver": carol.pk, "message": "Both", "key_result": kr.pk, "objective": objective.pk},
    )
    assert response.status_code == 400
    assert "not both" in response.content.decode()


def test_a_private_objective_is_never_offered_nor_accepted(
    client, login, acme, erin, carol, secret
):
    login(erin)
    page = client.get(url(acme)).content.decode()
    assert "Secret side project" not in page
    response = client.post(
        url(acme, "kudos_give"), {"receiver": carol.pk, "message": "Hi", "objective": secret.pk}
    )
    assert response.status_code == 400
    assert not Kudos.objects.for_org(acme).exists()


def test_kudos_for_a_private_objective_do_not_name_it_to_others(
    client, login, acme, alice, carol, erin, secret
):
    give(acme, alice, carol, "Quietly brilliant", objective=secret)
    login(erin)
    body = client.get(url(acme)).content.decode()
    assert "Quietly brilliant" in body
    assert "Secret side project" not in body and "For a private objective" in body
    login(carol)
    assert "Secret side project" in client.get(url(acme)).content.decode()


def test_a_person_page_lists_what_they_received(client, login, acme, bob, carol, erin):
    give(acme, bob, carol, "For carol")
    give(acme, carol, erin, "For erin")
    login(bob)
    response = client.get(url(acme, "person_kudos", membership_id=carol.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert "For carol" in body and "For erin" not in body
    assert f'<option value="{carol.pk}" selected>' in body  # the form is for her
    mine = client.get(url(acme, "person_kudos", membership_id=bob.pk)).content.decode()
    assert "Kudos for you" in mine and "Send kudos" not in mine


def test_another_organisations_person_is_404(client, login, acme, bob, mallory):
    login(bob)
    assert client.get(url(acme, "person_kudos", membership_id=mallory.pk)).status_code == 404
    login(mallory)
    assert client.get(url(acme)).status_code == 404
    assert client.post(url(acme, "kudos_give"), {"message": "x"}).status_code == 404


def test_only_post_gives(client, login, acme, bob):
    login(bob)
    assert client.get(url(acme, "kudos_give")).status_code == 405


@pytest.mark.parametrize("n", [5, 50])
def test_query_count_does_not_grow_with_kudos(
    client, login, acme, alice, bob, carol, erin, kr, objective, n, django_assert_max_num_queries
):
    people = [alice, bob, carol, erin]
    for i in range(n):
        giver, receiver = people[i % 4], people[(i + 1) % 4]
        subject = [{}, {"key_result": kr}, {"objective": objective}][i % 3]
        give(acme, giver, receiver, f"Thanks {i}", **subject)
    login(erin)
    with django_assert_max_num_queries(12):
        response = client.get(url(acme))
    assert response.status_code == 200
    assert response.content.decode().count('class="kudos-item"') == min(n, 30)
    with django_assert_max_num_queries(12):
        assert client.get(url(acme, "person_kudos", membership_id=carol.pk)).status_code == 200


def test_the_key_result_choice_lists_the_active_cycles_readable_ones(
    client, login, acme, bob, carol, erin, kr, secret
):
    hidden_kr = okr.key_result_create(
        org=acme,
        by=carol,
        objective=secret,
        owner=carol,
        title="Hidden KR",
        start_value=D(0),
        target_value=D(1),
    )
    login(erin)  # neither carol's manager nor a lead of her team
    body = client.get(url(acme)).content.decode()
    assert kr.title in body and hidden_kr.title not in body
    # Bob manages carol but no team of the objective (it has none): he does not read it.
    login(bob)
    assert hidden_kr.title not in client.get(url(acme)).content.decode()
    login(carol)  # its owner does
    assert hidden_kr.title in client.get(url(acme)).content.decode()


def test_without_an_active_cycle_kudos_link_to_nothing(client, login, acme, bob, carol):
    login(bob)
    page = client.get(url(acme)).content.decode()
    assert 'name="key_result"' not in page and 'name="objective"' not in page
    response = client.post(url(acme, "kudos_give"), {"receiver": carol.pk, "message": "Thanks"})
    assert response.status_code == 302
    assert Kudos.objects.for_org(acme).get().key_result is None
