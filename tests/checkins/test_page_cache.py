"""The cached company view and alignment tree: a write shows on the next request, and one
viewer never gets another viewer's private objectives from the cache."""

import re
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse

from checkins import services as cadence
from checkins.models import CheckIn
from cycles import services as okr
from cycles.models import Level
from okrapp import cache as page_cache
from okrapp import services as core

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def _company(acme):
    return reverse("org_home", kwargs={"org_slug": acme.slug})


def _tree(acme, cycle):
    return reverse("alignment_tree", kwargs={"org_slug": acme.slug, "cycle_id": cycle.pk})


def _get(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_bump_moves_the_version_once_when_its_transaction_commits(
    acme, carol, django_capture_on_commit_callbacks
):
    carols = (page_cache.person(carol.pk),)
    carols_before = page_cache.key("x", acme, 1, scopes=carols)
    first = page_cache.version(acme)
    assert page_cache.version(acme) == first  # stable while nothing changes
    before = page_cache.key("x", acme, 1)
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        page_cache.bump(acme)
        # Others keep reading the committed version until the commit...
        assert page_cache.version(acme) == first
        # ...the writing transaction reads keys of its own at once, stable until its next
        # change, for the scopes it changed only.
        own = page_cache.key("x", acme, 1)
        assert own != before and page_cache.key("x", acme, 1) == own
        assert page_cache.key("x", acme, 1, scopes=carols) == carols_before
        page_cache.bump_activity(acme, people=[carol.pk])
        assert page_cache.key("x", acme, 1) not in (before, own)
        assert page_cache.key("x", acme, 1, scopes=carols) != carols_before
    assert len(hooks) == 2  # one round trip to Redis per write, after its commit
    assert page_cache.version(acme) == first + 2
    assert page_cache.key("x", acme, 1) != page_cache.key("x", acme, 2)


def test_a_rolled_back_write_leaves_the_keys_as_they_were(acme):
    before = page_cache.key("x", acme, 1)
    with transaction.atomic():
        with transaction.atomic():
            page_cache.bump(acme)
            assert page_cache.key("x", acme, 1) != before
            transaction.set_rollback(True)
        assert page_cache.key("x", acme, 1) == before  # its hook went with the savepoint


def test_a_lost_version_never_restarts_at_an_old_number(acme):
    page_cache.bump(acme)
    before = page_cache.version(acme)
    cache.delete(f"okrapp:data-version:{acme.pk}")
    assert page_cache.version(acme) > before


def test_a_check_in_shows_on_the_next_company_view(client, login, acme, carol, kr):
    login(carol)
    assert "0 of 1 key results checked in" in _get(client, _company(acme))
    assert "0 of 1 key results checked in" in _get(client, _company(acme))  # cached
    cadence.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(20), confidence=7, need_help=True,
        note="Stuck on the calibration wizard",
    )  # fmt: skip
    body = _get(client, _company(acme))
    assert "1 of 1 key results checked in" in body
    assert "Stuck on the calibration wizard" in body  # a new call for help


def test_an_objective_edit_shows_on_the_next_tree_and_company_view(
    client, login, acme, alice, carol, cycle
):
    grow = okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.COMPANY, owner=alice, title="Grow revenue",
        mission_link="Robots that pay for themselves",
    )  # fmt: skip
    login(carol)
    assert "Grow revenue" in _get(client, _tree(acme, cycle))
    assert "Grow revenue" in _get(client, _company(acme))
    okr.objective_update(
        org=acme, by=alice, objective=grow, expected_version=grow.version, title="Grow profit"
    )
    tree, company = _get(client, _tree(acme, cycle)), _get(client, _company(acme))
    assert "Grow profit" in tree and "Grow revenue" not in tree
    assert "Grow profit" in company and "Grow revenue" not in company


def test_team_and_membership_changes_show_on_the_next_company_view(
    client, login, acme, alice, bob, carol, cycle
):
    """The company view's key names no teams: the team and membership services bump."""
    platform = core.team_create(org=acme, by=alice, name="Platform")
    okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.TEAM, team=platform, owner=bob,
        title="Ship the robot SDK",
    )  # fmt: skip
    login(alice)
    body = _get(client, _company(acme))
    assert "Platform" in body and "3 people" in body and "1 team" in body
    core.team_update(org=acme, by=alice, team=platform, name="Robot platform", parent=None)
    core.team_create(org=acme, by=alice, name="Sales")
    core.membership_deactivate(org=acme, by=alice, membership=carol)
    body = _get(client, _company(acme))
    assert "Robot platform" in body and "2 teams" in body and "2 people" in body


@pytest.mark.parametrize("first", ["reader", "outsider"])
def test_private_objectives_do_not_leak_through_the_cache(
    first, client, login, acme, alice, bob, carol, erin, cycle
):
    """alice (admin) and carol (its owner) read carol's private objective; erin does not.
    Whoever asks first fills the cache, the other must still see their own version."""
    okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.COMPANY, owner=alice, title="Grow revenue",
        mission_link="Robots that pay for themselves",
    )  # fmt: skip
    okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol,
        title="Secret career plan", visibility="private",
    )  # fmt: skip
    okr.objective_create(
        org=acme, by=alice, cycle=cycle, level=Level.COMPANY, owner=alice,
        title="Board-only acquisition", visibility="private", mission_link="Everywhere",
    )  # fmt: skip
    order = [carol, erin] if first == "reader" else [erin, carol]
    seen = {}
    for person in order:
        login(person)
        seen[person.pk] = (_get(client, _tree(acme, cycle)), _get(client, _company(acme)))
    carol_tree, carol_company = seen[carol.pk]
    erin_tree, erin_company = seen[erin.pk]
    assert "Secret career plan" in carol_tree
    assert "Secret career plan" not in erin_tree and "Private objective" in erin_tree
    # The admin's private company objective: blanked for both of them.
    for body in (carol_tree, carol_company, erin_tree, erin_company):
        assert "Board-only acquisition" not in body
    login(alice)
    assert "Board-only acquisition" in _get(client, _company(acme))
    assert "Board-only acquisition" in _get(client, _tree(acme, cycle))
    login(erin)
    assert "Board-only acquisition" not in _get(client, _company(acme))
    assert "Secret career plan" not in _get(client, _tree(acme, cycle))


def _dashboard(acme, team):
    return reverse("team_dashboard", kwargs={"org_slug": acme.slug, "team_slug": team.slug})


def test_the_team_objectives_section_is_cached_until_an_okr_write(
    client, login, acme, bob, cycle, engineering
):
    objective = okr.objective_create(
        org=acme, by=bob, cycle=cycle, level=Level.TEAM, owner=bob, team=engineering,
        title="Ship the robot arm",
    )  # fmt: skip
    login(bob)
    assert "Ship the robot arm" in _get(client, _dashboard(acme, engineering))
    # A write that does not go through the services is not announced: the drawn section
    # is served from the cache (until it expires).
    type(objective).objects.for_org(acme).filter(pk=objective.pk).update(title="Unannounced")
    assert "Ship the robot arm" in _get(client, _dashboard(acme, engineering))
    objective.refresh_from_db()
    okr.objective_update(
        org=acme, by=bob, objective=objective, expected_version=objective.version,
        title="Ship the robot hand",
    )  # fmt: skip
    body = _get(client, _dashboard(acme, engineering))
    assert "Ship the robot hand" in body and "Ship the robot arm" not in body


@pytest.mark.parametrize("first", ["reader", "outsider"])
def test_private_team_objectives_do_not_leak_through_the_dashboard_cache(
    first, client, login, acme, bob, carol, cycle, engineering
):
    """bob (owner and team lead) reads the private team objective; carol, on the team,
    does not. Whoever asks first fills the cache; the other still sees their own."""
    okr.objective_create(
        org=acme, by=bob, cycle=cycle, level=Level.TEAM, owner=bob, team=engineering,
        title="Quiet reorganisation", visibility="private",
    )  # fmt: skip
    order = [bob, carol] if first == "reader" else [carol, bob]
    seen = {}
    for person in order:
        login(person)
        seen[person.pk] = _get(client, _dashboard(acme, engineering))
    assert "Quiet reorganisation" in seen[bob.pk]
    assert "Quiet reorganisation" not in seen[carol.pk]


def test_kudos_show_at_once_and_private_subjects_stay_hidden_from_the_cache(
    client, login, acme, bob, carol, erin, cycle
):
    """The recent kudos list is cached for everyone; a new kudos shows on the next view,
    and what it was for is shown only to who may read it, whoever filled the cache."""
    secret = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol,
        title="Secret career plan", visibility="private",
    )  # fmt: skip
    cadence.kudos_give(org=acme, by=bob, receiver=carol, message="Great first week")
    login(carol)
    assert "Great first week" in _get(client, _company(acme))
    cadence.kudos_give(
        org=acme, by=carol, receiver=bob, message="Mentoring the interns", objective=secret
    )
    body = _get(client, _company(acme))  # carol owns the objective: she reads it
    assert "Mentoring the interns" in body and "Secret career plan" in body
    login(erin)
    body = _get(client, _company(acme))
    assert "Mentoring the interns" in body and "For a private objective" in body
    assert "Secret career plan" not in body


def _csrf_of(body: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)


def test_the_dashboard_is_kept_per_viewer_until_a_write_and_its_forms_still_post(
    acme, bob, carol, kr, engineering
):
    """The whole team dashboard is kept per viewer: a change not made through the services
    is not seen; a check-in and an acknowledgement are. The acknowledge form of a kept page
    carries the token of the request that shows it, and posting it works."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(bob.user)
    url = _dashboard(acme, engineering)
    cadence.checkin_record(org=acme, by=carol, key_result=kr, value=D(25), confidence=6)
    first = _get(browser, url)
    assert "1 not acknowledged" in first
    type(kr).objects.for_org(acme).filter(pk=kr.pk).update(title="Unannounced title")
    kept = _get(browser, url)
    assert "Unannounced title" not in kept  # served as kept
    assert page_cache.CSRF_HOLE not in first + kept
    checkin = CheckIn.objects.for_org(acme).get(key_result=kr)
    ack_url = reverse(
        "checkin_acknowledge", kwargs={"org_slug": acme.slug, "checkin_id": checkin.pk}
    )
    response = browser.post(ack_url, {"csrfmiddlewaretoken": _csrf_of(kept), "next": url})
    assert response.status_code == 302
    shown = _get(browser, url)  # the acknowledgement bumped the version: drawn afresh
    assert "Acknowledged" in shown  # the message, shown once
    assert "Unannounced title" in shown and "1 not acknowledged" not in shown
    again = _get(browser, url)  # kept again, as it is now
    assert "Acknowledged" not in again
    assert "Unannounced title" in again and "1 not acknowledged" not in again


@pytest.mark.parametrize("first", ["reader", "outsider"])
def test_one_viewer_never_gets_another_viewers_kept_dashboard(
    first, client, login, acme, bob, carol, erin, cycle, engineering
):
    """A key result under carol's private objective of Engineering: bob (who leads the
    team) reads it on the dashboard, erin does not. Each viewer's page is kept under their
    own key, whoever asks first."""
    plan = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol,
        title="Private growth plan", visibility="private", team=engineering,
    )  # fmt: skip
    okr.key_result_create(
        org=acme, by=carol, objective=plan, owner=carol, title="Mentor two juniors",
        start_value=D(0), target_value=D(2),
    )  # fmt: skip
    seen = {}
    for person in [bob, erin] if first == "reader" else [erin, bob]:
        login(person)
        seen[person.pk] = _get(client, _dashboard(acme, engineering))
    assert "Mentor two juniors" in seen[bob.pk]
    assert "Mentor two juniors" not in seen[erin.pk]


def _my_week(acme):
    return reverse("my_week", kwargs={"org_slug": acme.slug})


def _kr_page(acme, kr):
    return reverse("key_result_detail", kwargs={"org_slug": acme.slug, "kr_id": kr.pk})


@pytest.fixture
def bobs_kr(acme, bob, cycle):
    objective = okr.objective_create(
        org=acme, by=bob, cycle=cycle, level=Level.INDIVIDUAL, owner=bob, title="Hire well"
    )
    return okr.key_result_create(
        org=acme, by=bob, objective=objective, owner=bob, title="Hire 2 engineers",
        start_value=D(0), target_value=D(2),
    )  # fmt: skip


def _quietly_rename(kr, title):
    """A change no service announces: shows only once the page is drawn again."""
    type(kr).objects.for_org(kr.organization_id).filter(pk=kr.pk).update(title=title)


def test_my_week_and_the_kr_page_stay_kept_through_other_peoples_activity(
    client, login, acme, bob, carol, kr, bobs_kr
):
    login(carol)
    _get(client, _my_week(acme))
    _get(client, _kr_page(acme, kr))
    _quietly_rename(kr, "Quietly renamed")
    cadence.checkin_record(org=acme, by=bob, key_result=bobs_kr, value=D(1), confidence=7)
    cadence.comment_create(org=acme, by=bob, key_result=bobs_kr, body="First hire signed")
    assert "Quietly renamed" not in _get(client, _my_week(acme))  # still kept
    assert "Quietly renamed" not in _get(client, _kr_page(acme, kr))
    # carol's own check-in: her week and the key result's page are drawn afresh.
    cadence.checkin_record(org=acme, by=carol, key_result=kr, value=D(25), confidence=6)
    assert "Quietly renamed" in _get(client, _my_week(acme))
    assert "Quietly renamed" in _get(client, _kr_page(acme, kr))


def test_a_kept_kr_page_shows_comments_acknowledgements_and_initiatives_at_once(
    client, login, acme, bob, carol, kr
):
    checkin = cadence.checkin_record(org=acme, by=carol, key_result=kr, value=D(25), confidence=6)
    login(carol)
    _get(client, _kr_page(acme, kr))
    _get(client, _my_week(acme))
    cadence.comment_create(org=acme, by=bob, checkin=checkin, body="Nice drop in tickets")
    assert "Nice drop in tickets" in _get(client, _kr_page(acme, kr))
    cadence.checkin_acknowledge(org=acme, by=bob, checkin=checkin, reply="Keep going")
    assert "Keep going" in _get(client, _kr_page(acme, kr))
    assert "Keep going" in _get(client, _my_week(acme))  # the manager's word on her week
    okr.initiative_save(org=acme, by=carol, key_result=kr, title="Rewrite the FAQ")
    assert "Rewrite the FAQ" in _get(client, _kr_page(acme, kr))
    kr.refresh_from_db()  # the check-in moved its version
    okr.key_result_update(
        org=acme, by=carol, key_result=kr, expected_version=kr.version, title="Cut tickets"
    )
    assert "Cut tickets" in _get(client, _my_week(acme))


def test_only_the_bare_address_is_kept(client, login, acme, bob, carol, kr, engineering):
    """A filtered dashboard (any query string) is drawn each time: what one person can make
    the cache hold stays one entry per page they may open."""
    login(bob)
    url = _dashboard(acme, engineering)
    _get(client, url)
    _get(client, url + "?status=behind")
    _quietly_rename(kr, "Quietly renamed")
    assert "Quietly renamed" not in _get(client, url)
    assert "Quietly renamed" in _get(client, url + "?status=behind")
