"""Private objectives against the role table: "visible only to their owner, the team's
managers and admins" (the OKR core issue), in Python, in SQL and on every page or API list
that shows a person's objectives to their manager.

The team's managers are the leads of the objective's own team or of a team above it
(``Membership.managed_team_ids``); an objective without a team has none. The owner's direct
manager is not one of them as such: bob manages carol but leads no team of her objective.
"""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from checkins import services as cadence
from checkins.dashboards.teams import readable_objectives_q as dashboard_readable_q
from cycles import permissions, services
from cycles.models import KeyResult, Level, Objective
from cycles.views.tree import hidden_objective_ids
from okrapp.models import Membership
from tests.api.conftest import url as api_url
from tests.factories import MembershipFactory, TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cycle(acme, alice):
    today = timezone.localtime(timezone.now(), acme.zoneinfo).date()
    cycle = services.cycle_create(
        org=acme,
        by=alice,
        name="This quarter",
        start_date=today - timedelta(days=30),
        end_date=today + timedelta(days=60),
    )
    for state in ("planning", "active"):
        cycle = services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    return cycle


@pytest.fixture
def cast(acme, alice, bob, carol, erin, engineering):
    """Everyone in the role table, by name. Engineering (bob leads it; carol is on it) is
    under R&D, which pat leads."""
    rnd = TeamFactory(organization=acme, name="R&D", slug="rnd")
    engineering.parent = rnd
    engineering.save()
    pat = MembershipFactory(
        organization=acme,
        user=UserFactory(email="pat@acme.example", full_name="Pat Wang"),
        role=Membership.Role.MANAGER,
    )
    TeamMembershipFactory(organization=acme, team=rnd, membership=pat, is_lead=True)
    dave = MembershipFactory(
        organization=acme, user=UserFactory(email="dave@acme.example", full_name="Dave Wu")
    )
    return {"alice": alice, "bob": bob, "carol": carol, "erin": erin, "pat": pat, "dave": dave}


@pytest.fixture
def privates(acme, bob, carol, cycle, engineering):
    """Three private objectives, each with a key result."""

    def make(by, title, level, team=None):
        objective = services.objective_create(
            org=acme,
            by=by,
            cycle=cycle,
            title=title,
            level=level,
            owner=by,
            team=team,
            visibility="private",
        )
        services.key_result_create(
            org=acme,
            by=by,
            objective=objective,
            title=f"{title} KR",
            owner=by,
            start_value=D(0),
            target_value=D(10),
        )
        return objective

    return {
        "carol alone": make(carol, "Carol secret alone", Level.INDIVIDUAL),
        "carol in engineering": make(carol, "Carol secret in team", Level.INDIVIDUAL, engineering),
        "engineering": make(bob, "Engineering secret", Level.TEAM, engineering),
    }


# Who reads which private objective: the owner, the managers of its team, admins.
READERS = {
    "carol alone": {"alice", "carol"},
    "carol in engineering": {"alice", "carol", "bob", "pat"},
    "engineering": {"alice", "bob", "pat"},
}


def _fresh(person: Membership) -> Membership:
    """The person as a request would load them (nothing cached from another test step)."""
    return Membership.objects.for_org(person.organization_id).get(pk=person.pk)


def test_the_role_table_in_python_and_in_sql(acme, cast, privates, cycle):
    for who, person in cast.items():
        person = _fresh(person)
        visible = set(
            Objective.objects.for_org(acme)
            .visible_to(person, person.managed_team_ids)
            .values_list("pk", flat=True)
        )
        dashboard_q = dashboard_readable_q(person, "objective__")
        krs = KeyResult.objects.for_org(acme)
        dashboard_visible = set(
            (krs if dashboard_q is None else krs.filter(dashboard_q)).values_list(
                "objective_id", flat=True
            )
        )
        hidden = set(hidden_objective_ids(acme, person, cycle))
        for name, objective in privates.items():
            objective = Objective.objects.for_org(acme).get(pk=objective.pk)
            reads = who in READERS[name]
            assert permissions.can_read_objective(person, objective) is reads, (who, name)
            assert (objective.pk in visible) is reads, (who, name)
            assert (objective.pk in dashboard_visible) is reads, (who, name)
            assert (objective.pk in hidden) is (not reads), (who, name)
            if not reads:  # nobody edits what they may not read
                assert not permissions.can_edit_objective(person, objective), (who, name)


def test_pages_and_the_api_follow_the_role_table(client, acme, cast, privates):
    for who, person in cast.items():
        client.force_login(person.user, backend="django.contrib.auth.backends.ModelBackend")
        for name, objective in privates.items():
            reads = who in READERS[name]
            page = reverse(
                "objective_detail", kwargs={"org_slug": acme.slug, "objective_id": objective.pk}
            )
            assert client.get(page).status_code == (200 if reads else 404), (who, name)
            api = client.get(api_url(acme, f"objectives/{objective.pk}/"))
            assert api.status_code == (200 if reads else 404), (who, name)


def test_a_direct_manager_sees_a_reports_private_objective_blanked_everywhere(
    client, acme, alice, bob, carol, cycle, privates, engineering
):
    """Bob manages carol and leads Engineering: of carol's private objectives he reads the
    Engineering one and no other, on every page that shows him carol's work, and none of
    those pages fails."""
    secret = privates["carol alone"]
    kr = secret.key_results.get()
    cadence.checkin_record(
        org=acme, by=carol, key_result=kr, value=D(4), confidence=3, note="Secret note"
    )
    # Another check-in bob may read, so his queue and agenda are not simply empty.
    team_kr = privates["carol in engineering"].key_results.get()
    cadence.checkin_record(org=acme, by=carol, key_result=team_kr, value=D(2), confidence=6)
    client.force_login(bob.user, backend="django.contrib.auth.backends.ModelBackend")
    pages = [
        reverse("ack_queue", kwargs={"org_slug": acme.slug}),
        reverse("one_on_one_detail", kwargs={"org_slug": acme.slug, "membership_id": carol.pk}),
        reverse("org_home", kwargs={"org_slug": acme.slug}),
        reverse("team_dashboard", kwargs={"org_slug": acme.slug, "team_slug": engineering.slug}),
        reverse("person_okrs", kwargs={"org_slug": acme.slug, "membership_id": carol.pk}),
        reverse("team_okrs", kwargs={"org_slug": acme.slug, "team_slug": engineering.slug}),
        reverse("alignment_tree", kwargs={"org_slug": acme.slug, "cycle_id": cycle.pk}),
        reverse("cycle_detail", kwargs={"org_slug": acme.slug, "cycle_id": cycle.pk}),
        reverse("kudos_feed", kwargs={"org_slug": acme.slug}),
        api_url(acme, "objectives/"),
        api_url(acme, "key-results/"),
        api_url(acme, "initiatives/"),
        api_url(acme, "comments/"),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        assert "Carol secret alone" not in body, page
        assert "Secret note" not in body, page
    # The ones he may read are there, so the blanking is not just an empty page.
    person = client.get(pages[4]).content.decode()
    assert "Carol secret in team" in person
    assert client.get(pages[0]).content.decode().count("Carol secret in team KR") >= 1
    # And an admin reads carol's own.
    client.force_login(alice.user, backend="django.contrib.auth.backends.ModelBackend")
    assert "Carol secret alone" in client.get(pages[4]).content.decode()


def test_a_direct_manager_cannot_write_a_private_objective_they_could_not_read(
    acme, bob, carol, erin, cycle, engineering
):
    from django.core.exceptions import ValidationError

    # Erin reports to bob; an objective of hers with no team would vanish for him.
    with pytest.raises(ValidationError) as exc:
        services.objective_create(
            org=acme,
            by=bob,
            cycle=cycle,
            title="For erin",
            level=Level.INDIVIDUAL,
            owner=erin,
            visibility="private",
        )
    assert "visibility" in exc.value.message_dict
    # Nor make a report's public objective private.
    mine = services.objective_create(
        org=acme, by=erin, cycle=cycle, title="Erin's", level=Level.INDIVIDUAL, owner=erin
    )
    with pytest.raises(ValidationError) as exc:
        services.objective_update(
            org=acme, by=bob, objective=mine, expected_version=1, visibility="private"
        )
    assert "visibility" in exc.value.message_dict
    # With a team he manages, it stays his to read: allowed.
    services.objective_update(
        org=acme,
        by=bob,
        objective=mine,
        expected_version=1,
        visibility="private",
        team=engineering,
    )
