"""Pages that list objectives keep a constant number of queries as the cycle grows."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cycles.models import Level
from tests.cycles.factories import (
    CycleFactory,
    InitiativeFactory,
    KeyResultFactory,
    ObjectiveFactory,
    ReviewFactory,
)
from tests.factories import MembershipFactory, TeamFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db

# The most queries each page may take, whatever the size of the cycle. The tree reads the
# outline of the cycle first, so that a large one loads its deeper branches on demand; and
# the private objectives the viewer may not read, which key its cached drawing (drawn: 8).
BUDGET = {"cycle_detail": 10, "alignment_tree": 12, "person_okrs": 9, "review_queue": 13}


def _grow(org, cycle, viewer, size: int) -> None:
    """``size`` teams, each with a team objective under a company objective and an
    individual objective of a new person (some private), each with two key results."""
    companies = [
        ObjectiveFactory(cycle=cycle, organization=org, owner=viewer, level=Level.COMPANY)
        for _ in range(max(1, size // 10))
    ]
    for i in range(size):
        team = TeamFactory(organization=org)
        person = MembershipFactory(organization=org, manager=viewer if i % 2 else None)
        TeamMembershipFactory(organization=org, team=team, membership=person, is_lead=i % 3 == 0)
        team_objective = ObjectiveFactory(
            cycle=cycle,
            organization=org,
            owner=person,
            level=Level.TEAM,
            team=team,
            aligned_to=[companies[i % len(companies)]],
        )
        individual = ObjectiveFactory(
            cycle=cycle,
            organization=org,
            owner=person,
            level=Level.INDIVIDUAL,
            team=team,
            visibility="private" if i % 4 == 0 else "public",
            aligned_to=[team_objective] if i % 5 else [],
        )
        # The viewer owns a few too, and key results on others' objectives.
        mine = ObjectiveFactory(
            cycle=cycle,
            organization=org,
            owner=viewer,
            level=Level.INDIVIDUAL,
            aligned_to=[team_objective],
        )
        for objective in (team_objective, individual, mine):
            kr = KeyResultFactory(objective=objective)
            KeyResultFactory(objective=objective, owner=viewer if i % 2 else person)
            InitiativeFactory(key_result=kr, status="done")
        ReviewFactory(objective=team_objective, reviewer=viewer, comment="Fine")
        ReviewFactory(
            objective=mine, reviewer=viewer, decision="changes_requested", comment="Sharpen"
        )


def _count(client, url) -> int:
    # Cold: the factories write rows without the services, which bump the page cache.
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("page", sorted(BUDGET))
def test_query_count_does_not_grow_with_the_cycle(
    page, login, acme, bob, erin, engineering, django_assert_max_num_queries
):
    viewer = erin if page == "review_queue" else bob
    cycle = CycleFactory(organization=acme, state="active")
    kwargs = {"org_slug": acme.slug}
    if page == "person_okrs":
        kwargs["membership_id"] = viewer.pk
    else:
        kwargs["cycle_id"] = cycle.pk
    target = reverse(page, kwargs=kwargs)
    client = login(viewer)

    _grow(acme, cycle, viewer, 3)
    small = _count(client, target)
    _grow(acme, cycle, viewer, 27)  # 30 in all
    with django_assert_max_num_queries(BUDGET[page]):
        large = _count(client, target)
    assert large == small, f"{page}: {small} queries at size 3, {large} at size 30"


def test_a_large_tree_loads_its_deeper_branches_on_demand(
    login, acme, bob, engineering, monkeypatch, django_assert_max_num_queries
):
    from cycles.models import Alignment, Objective
    from cycles.views import tree

    monkeypatch.setattr(tree, "TREE_INLINE_LIMIT", 20)
    cycle = CycleFactory(organization=acme, state="active")
    _grow(acme, cycle, bob, 10)  # 31 objectives: over the limit
    client = login(bob)
    url = reverse("alignment_tree", kwargs={"org_slug": acme.slug, "cycle_id": cycle.pk})
    team_objective = (
        Objective.objects.for_org(acme).filter(cycle=cycle, level=Level.TEAM).order_by("pk").first()
    )
    below = [
        a.child
        for a in Alignment.objects.for_org(acme)
        .filter(parent=team_objective)
        .select_related("child")
    ]
    assert below
    with django_assert_max_num_queries(BUDGET["alignment_tree"]):
        page = client.get(url).content.decode()
    assert team_objective.title in page
    assert f"?branch={team_objective.pk}" in page  # the link that works without JavaScript
    assert 'hx-trigger="toggle once from:closest details"' in page
    assert not any(o.title in page for o in below)

    # htmx asks for the branch when it is opened: its objectives alone.
    branch = client.get(url, {"branch": team_objective.pk}, headers={"HX-Request": "true"})
    assert branch.status_code == 200
    assert all(o.title in branch.content.decode() for o in below if o.visibility == "public")
    assert "<html" not in branch.content.decode()
    # Without JavaScript the link opens the page with that branch drawn.
    opened = client.get(url, {"branch": team_objective.pk}).content.decode()
    assert acme.mission in opened
    assert all(o.title in opened for o in below if o.visibility == "public")
    # Everything on request; a branch that is not in the cycle is a notice (404 for htmx).
    everything = client.get(url, {"all": "1"}).content.decode()
    assert all(o.title in everything for o in below if o.visibility == "public")
    assert client.get(url, {"branch": "999999"}).status_code == 200
    missing = client.get(url, {"branch": "999999"}, headers={"HX-Request": "true"})
    assert missing.status_code == 404
