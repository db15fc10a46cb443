"""The KR page: check-in timeline with revisions, burn-up, check-in on behalf, comments."""

from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.urls import reverse

from checkins import services
from checkins.models import CheckIn, Comment
from cycles import services as okr_services

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


def test_a_much_revised_check_in_lists_its_latest_revisions_and_links_to_all(
    client, login, acme, carol, kr, django_assert_max_num_queries
):
    for n in range(9):  # revision 9: eight earlier versions
        checkin = services.checkin_record(
            org=acme,
            by=carol,
            key_result=kr,
            value=D(10 + n),
            confidence=5,
            note=f"pass {n}",
            expected_revision=n,
        )
    login(carol)
    body = client.get(kr_url(acme, kr)).content.decode()
    assert "Revised 8 times" in body
    # The newest five earlier versions (notes "pass 7" … "pass 3"), not the oldest three.
    assert all(f"“pass {n}”" in body for n in range(3, 8))
    assert not any(f"“pass {n}”" in body for n in range(3))
    link = f"?revisions={checkin.pk}#checkin-{checkin.pk}"
    assert link in body and "Show all 8 earlier versions" in body

    cache.clear()  # the page is kept per viewer: count the queries of drawing it
    with django_assert_max_num_queries(30) as few:
        client.get(kr_url(acme, kr))
    with django_assert_max_num_queries(len(few)):  # all of them: same number of queries
        every = client.get(kr_url(acme, kr) + f"?revisions={checkin.pk}").content.decode()
    assert all(f"“pass {n}”" in every for n in range(8))
    assert "Show all 8" not in every

    for junk in ("abc", "²", "99999999999999999999", "-1", str(checkin.pk + 1000)):
        response = client.get(kr_url(acme, kr), {"revisions": junk})
        assert response.status_code == 200
        assert "Show all 8 earlier versions" in response.content.decode()


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


# --- The add-initiative form's owner: a shortlist and a search, not every member -----------------


def _members(org, n, prefix="member"):
    from tests.factories import MembershipFactory, UserFactory

    return [
        MembershipFactory(
            organization=org,
            user=UserFactory(email=f"{prefix}{i}@acme.example", full_name=f"Zed {prefix} {i}"),
        )
        for i in range(n)
    ]


def test_the_owner_list_is_a_shortlist_with_a_search(client, login, acme, bob, carol, kr):
    others = _members(acme, 30)
    login(carol)
    page = client.get(kr_url(acme, kr)).content.decode()
    # The viewer and the key result's owner are offered; the organisation's other 30 are not.
    assert f'<option value="{carol.pk}"' in page
    assert not any(f'<option value="{m.pk}"' in page for m in others)
    # The search box asks the organisation's members for the list (htmx).
    search = reverse("initiative_owner_options", kwargs={"org_slug": "acme", "kr_id": kr.pk})
    assert f'hx-get="{search}"' in page and 'name="owner_email"' in page

    found = client.get(search, {"q": "Zed member 1"}).content.decode()
    assert f'<option value="{others[1].pk}" selected>' in found  # the first match is chosen
    assert f'value="{others[10].pk}"' in found and f'value="{others[2].pk}"' not in found
    assert f'<option value="{carol.pk}"' in found  # the shortlist follows
    assert "Nobody matches" in client.get(search, {"q": "no such person"}).content.decode()


def test_the_search_stays_inside_the_organisation_and_its_editors(
    client, login, acme, carol, erin, mallory, kr
):
    search = reverse("initiative_owner_options", kwargs={"org_slug": "acme", "kr_id": kr.pk})
    login(carol)
    assert "Mallory" not in client.get(search, {"q": "mallory"}).content.decode()
    login(erin)  # may read the key result, may not edit its initiatives
    assert client.get(search, {"q": "carol"}).status_code == 403
    login(mallory)
    assert client.get(search, {"q": "carol"}).status_code == 404


def test_an_owner_outside_the_shortlist_by_id_or_typed_email(client, login, acme, carol, kr):
    from cycles.models import Initiative

    (far,) = _members(acme, 1, prefix="far")
    login(carol)
    create = reverse("initiative_create", kwargs={"org_slug": "acme", "kr_id": kr.pk})
    # Picked from a search: the id of any active member validates.
    response = client.post(create, {"title": "By id", "status": "not_started", "owner": far.pk})
    assert response.status_code == 302
    # Without JavaScript: the whole email, any case.
    response = client.post(
        create, {"title": "By email", "status": "not_started", "owner_email": "FAR0@acme.example"}
    )
    assert response.status_code == 302
    owners = dict(Initiative.objects.for_org(acme).values_list("title", "owner_id"))
    assert owners == {"By id": far.pk, "By email": far.pk}


def test_a_wrong_owner_is_400_with_a_message_and_the_input_kept(
    client, login, acme, carol, mallory, kr
):
    from cycles.models import Initiative

    login(carol)
    create = reverse("initiative_create", kwargs={"org_slug": "acme", "kr_id": kr.pk})
    response = client.post(
        create, {"title": "Keep me", "status": "not_started", "owner_email": "nobody@acme.example"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Nobody active in this organisation has the email" in body
    assert 'value="Keep me"' in body and 'value="nobody@acme.example"' in body
    # Another organisation's member, by email or by id, is nobody here.
    by_email = client.post(
        create, {"title": "x", "status": "not_started", "owner_email": "mallory@globex.example"}
    )
    assert by_email.status_code == 400
    by_id = client.post(create, {"title": "x", "status": "not_started", "owner": mallory.pk})
    assert by_id.status_code == 400 and "Select a valid choice" in by_id.content.decode()
    # A part of a name without a choice in the list (what a search box holds) says so too.
    partial = client.post(create, {"title": "x", "status": "not_started", "owner_email": "Zed"})
    assert partial.status_code == 400
    assert not Initiative.objects.for_org(acme).exists()


# --- Check-in refusals, revisions' authors, comments on check-ins --------------------------------


def _hidden_revision(body: str) -> str:
    import re

    (value,) = re.findall(r'<input type="hidden" name="revision" value="(\d*)"', body)
    return value


def test_saving_again_after_a_lost_race_revises_the_newer_check_in(
    client, login, acme, bob, carol, kr
):
    services.checkin_record(
        org=acme, by=bob, key_result=kr, value=D(24), confidence=5, note="Counted by Bob"
    )
    login(carol)
    save = kr_url(acme, kr, "key_result_checkin")
    typed = {"value": "99", "confidence": "9", "note": "typed note", "revision": "0"}
    stale = client.post(save, typed)
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "changed since you opened the page" in body
    assert "Now saved: 24 (confidence 5/10) by Bob Lin." in body and "Counted by Bob" in body
    assert 'value="99"' in body and "typed note" in body
    assert _hidden_revision(body) == "1"  # the newer check-in's, not the one sent

    again = client.post(save, {**typed, "revision": _hidden_revision(body)})
    assert again.status_code == 302
    checkin = CheckIn.objects.for_org(acme).get()
    assert (checkin.value, checkin.revision, checkin.recorded_by) == (D(99), 2, carol)


def test_a_first_check_in_at_the_same_instant_as_another_shows_it_and_saves_next(
    monkeypatch, client, login, acme, bob, carol, kr
):
    services.checkin_record(org=acme, by=bob, key_result=kr, value=D(24), confidence=5)
    locked = services.lock_for_checkin

    def read_before_the_other_committed(*args, **kwargs):
        key_result = locked(*args, **kwargs)
        key_result.week_checkin = None
        return key_result

    monkeypatch.setattr(services, "lock_for_checkin", read_before_the_other_committed)
    login(carol)
    save = kr_url(acme, kr, "key_result_checkin")
    lost = client.post(save, {"value": "99", "confidence": "9", "revision": "0"})
    assert lost.status_code == 409
    body = lost.content.decode()
    assert "at the same moment" in body and "Now saved: 24" in body
    assert _hidden_revision(body) == "1"
    monkeypatch.undo()
    again = client.post(save, {"value": "99", "confidence": "9", "revision": "1"})
    assert again.status_code == 302 and CheckIn.objects.for_org(acme).get().value == D(99)


def test_a_check_in_in_a_cycle_that_is_not_active_says_why_and_keeps_the_input(
    client, login, acme, alice, carol, cycle, kr
):
    okr_services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    login(carol)
    assert "Check in for this week" not in client.get(kr_url(acme, kr)).content.decode()
    response = client.post(
        kr_url(acme, kr, "key_result_checkin"),
        {"value": "21", "confidence": "7", "note": "typed note", "revision": "0"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "2026 Q4 is not active; check-ins are taken only in the active cycle." in body
    assert 'value="21"' in body and "typed note" in body
    assert not CheckIn.objects.for_org(acme).exists()


def test_an_id_beyond_any_row_is_not_found(client, login, acme, carol, kr):
    huge = "99999999999999999999"
    login(carol)
    assert client.get(f"/acme/key-results/{huge}/").status_code == 404
    response = client.post(
        f"/acme/key-results/{huge}/check-in/", {"value": "1", "confidence": "5", "revision": "0"}
    )
    assert response.status_code == 404


def _revisions(body: str, checkin) -> str:
    """The earlier versions listed under one check-in of the timeline."""
    item = body[body.index(f'id="checkin-{checkin.pk}"') :]
    return item[item.index('<details class="revisions"') : item.index("</details>")]


def test_each_earlier_version_says_who_recorded_it(client, login, acme, bob, carol, kr):
    for n, by in enumerate((carol, bob, carol)):
        checkin = services.checkin_record(
            org=acme, by=by, key_result=kr, value=D(26 - n), confidence=6,
            note=f"pass {n}", expected_revision=n,
        )  # fmt: skip
    login(carol)
    earlier = _revisions(client.get(kr_url(acme, kr)).content.decode(), checkin)
    bobs, carols = earlier.split("<li>")[1:]  # newest first
    assert "“pass 1”" in bobs and "recorded by Bob Lin on behalf of Carol Tsai" in bobs
    assert "“pass 0”" in carols and "recorded by Carol Tsai" in carols
    assert "on behalf" not in carols


def test_a_comment_on_a_check_in_can_be_edited_and_deleted_by_its_author(
    client, login, acme, bob, carol, kr
):
    checkin = services.checkin_record(org=acme, by=carol, key_result=kr, value=D(25), confidence=6)
    comment = services.comment_create(org=acme, by=bob, checkin=checkin, body="Nice drop")
    edit = reverse("comment_edit", kwargs={"org_slug": "acme", "comment_id": comment.pk})
    delete = reverse("comment_delete", kwargs={"org_slug": "acme", "comment_id": comment.pk})
    login(bob)
    body = client.get(kr_url(acme, kr)).content.decode()
    item = body[body.index(f'id="checkin-{checkin.pk}"') : body.index('id="comments"')]
    assert "Nice drop" in item and f'action="{edit}"' in item and f'formaction="{delete}"' in item
    assert ">Nice drop</textarea>" in item  # the edit box starts from the comment
    login(carol)
    body = client.get(kr_url(acme, kr)).content.decode()
    assert "Nice drop" in body and edit not in body and delete not in body
