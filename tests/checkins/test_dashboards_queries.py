"""The dashboards keep a constant number of queries as the team grows (5 and 50 people)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cycles.models import Level, Objective
from tests.checkins.dashboard_data import active_cycle, grow, sub_team
from tests.cycles.factories import KeyResultFactory, ObjectiveFactory

pytestmark = pytest.mark.django_db

BUDGET = 15

PAGES = {
    # page: (URL name, who looks)
    "team_dashboard": ("team_dashboard", "bob"),
    "team_dashboard_csv": ("team_dashboard_csv", "bob"),
    "team_dashboard_staff": ("team_dashboard", "carol"),
    "company": ("org_home", "carol"),
    "company_admin": ("org_home", "alice"),
    "alignment_tree": ("alignment_tree", "bob"),
    "objective_path": ("objective_path", "carol"),
    "cadence_health": ("cadence_health", "erin"),
    "cadence_health_admin": ("cadence_health", "alice"),
}


def _count(client, url, *, cold: bool = True, **params) -> int:
    """Queries of one request; ``cold``: with nothing cached (the factories write rows
    without the services, which is what would tell the page cache)."""
    if cold:
        cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_same_queries_for_5_and_50_people(
    page, request, login, acme, alice, bob, carol, erin, engineering, django_assert_max_num_queries
):
    name, who = PAGES[page]
    viewer = request.getfixturevalue(who)
    cycle = active_cycle(acme)
    platform = sub_team(acme, engineering)
    company = ObjectiveFactory(cycle=cycle, organization=acme, owner=alice, level=Level.COMPANY)
    KeyResultFactory(objective=company, owner=alice)
    for team in (engineering, platform):
        objective = ObjectiveFactory(
            cycle=cycle,
            organization=acme,
            owner=bob,
            level=Level.TEAM,
            team=team,
            aligned_to=[company],
        )
        KeyResultFactory(objective=objective, owner=bob)
    mine = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=carol, level=Level.INDIVIDUAL, aligned_to=[objective]
    )
    kwargs = {"org_slug": acme.slug}
    if name.startswith("team_dashboard"):
        kwargs["team_slug"] = engineering.slug
    elif name == "objective_path":
        kwargs["objective_id"] = mine.pk
    elif name != "org_home":
        kwargs["cycle_id"] = cycle.pk
    url = reverse(name, kwargs=kwargs)
    client = login(viewer)

    grow(acme, cycle, engineering, bob, 5, sub_team=platform)
    small = _count(client, url)
    grow(acme, cycle, engineering, bob, 45, start=5, sub_team=platform)  # 50 in all
    with django_assert_max_num_queries(BUDGET):
        large = _count(client, url)
    assert large == small, f"{page}: {small} queries for 5 people, {large} for 50"
    # Served from the page cache the second time: never more queries than cold.
    assert _count(client, url, cold=False) <= large


@pytest.mark.parametrize("page", sorted(PAGES))
def test_queries_without_team_objectives(
    page, request, login, acme, alice, bob, carol, erin, engineering, django_assert_max_num_queries
):
    """The same pages in a cycle with no team objective at all (people's objectives
    aligned straight to the company's): never more queries for 50 people than for 5.

    They may be fewer. Five people have few enough key results for the team dashboard to
    list them all (the key results and their check-ins: two queries); fifty are summarised
    in SQL, one line per person, and then the team objectives' key results and check-ins
    are read for the objectives section, which is no query when there are none."""
    name, who = PAGES[page]
    viewer = request.getfixturevalue(who)
    cycle = active_cycle(acme)
    platform = sub_team(acme, engineering)
    company = ObjectiveFactory(cycle=cycle, organization=acme, owner=alice, level=Level.COMPANY)
    KeyResultFactory(objective=company, owner=alice)
    mine = ObjectiveFactory(
        cycle=cycle, organization=acme, owner=carol, level=Level.INDIVIDUAL, aligned_to=[company]
    )
    KeyResultFactory(objective=mine, owner=carol)
    kwargs = {"org_slug": acme.slug}
    if name.startswith("team_dashboard"):
        kwargs["team_slug"] = engineering.slug
    elif name == "objective_path":
        kwargs["objective_id"] = mine.pk
    elif name != "org_home":
        kwargs["cycle_id"] = cycle.pk
    url = reverse(name, kwargs=kwargs)
    client = login(viewer)

    grow(acme, cycle, engineering, bob, 5, sub_team=platform)
    small = _count(client, url)
    grow(acme, cycle, engineering, bob, 45, start=5, sub_team=platform)  # 50 in all
    assert not Objective.objects.for_org(acme).filter(level=Level.TEAM).exists()
    with django_assert_max_num_queries(BUDGET):
        large = _count(client, url)
    assert large <= small <= BUDGET, f"{page}: {small} queries for 5 people, {large} for 50"


def test_filtered_dashboard_queries_do_not_grow_either(
    login, acme, bob, engineering, django_assert_max_num_queries
):
    cycle = active_cycle(acme)
    url = reverse("team_dashboard", kwargs={"org_slug": acme.slug, "team_slug": "engineering"})
    client = login(bob)
    grow(acme, cycle, engineering, bob, 5)
    small = _count(client, url, status="behind", sort="progress", need_help="1")
    grow(acme, cycle, engineering, bob, 45, start=5)
    with django_assert_max_num_queries(BUDGET):
        large = _count(client, url, status="behind", sort="progress", need_help="1")
    assert large == small
