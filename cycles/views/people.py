"""A person's OKRs and a team's OKRs for one cycle."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from cycles import permissions
from cycles.models import (
    Cycle,
    KeyResult,
    Level,
    Objective,
    ObjectiveStatus,
    Review,
    ReviewStatus,
)
from cycles.views.common import decorate, load_cycles, pick_cycle, set_track
from okrapp.models import Membership, Team, TeamMembership
from okrapp.rendering import render_page


def objectives_with_key_results(org, cycle: Cycle):
    """Current objectives of ``cycle`` with owners, key results and reviews (four queries)."""
    return (
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .with_people()
        .prefetch_related(
            Prefetch(
                "key_results",
                queryset=KeyResult.objects.for_org(org).select_related("owner__user"),
            ),
            Prefetch(
                "reviews",
                queryset=Review.objects.for_org(org).select_related("reviewer__user"),
            ),
        )
    )


def my_okrs(request, org_slug):
    """The signed-in person's page for the active cycle (or the latest one)."""
    url = reverse(
        "person_okrs", kwargs={"org_slug": request.org.slug, "membership_id": request.membership.pk}
    )
    cycle = Cycle.objects.for_org(request.org).current_first().only("id").first()
    return redirect(f"{url}?cycle={cycle.pk}" if cycle else url)


def person_okrs(request, org_slug, membership_id):
    org, viewer = request.org, request.membership
    person = get_object_or_404(Membership.objects.for_org(org).with_user(), pk=membership_id)
    cycles = load_cycles(org)
    cycle = pick_cycle(request, cycles)
    context = {"person": person, "cycles": cycles, "cycle": cycle, "is_me": person.pk == viewer.pk}
    if cycle is not None:
        owned = list(objectives_with_key_results(org, cycle).filter(owner=person))
        expected = decorate(owned, viewer, cycle, org=org, with_key_results=True)
        elsewhere = list(
            KeyResult.objects.for_org(org)
            .in_cycle(cycle)
            .filter(owner=person)
            .exclude(objective__owner=person)
            .exclude(objective__status=ObjectiveStatus.ARCHIVED)
            .with_objective()
        )
        for kr in elsewhere:
            kr.readable = permissions.can_read_objective(viewer, kr.objective)
            set_track(kr, expected)
        readable = [o for o in owned if o.readable]
        context |= {
            "expected": expected,
            "individual": [o for o in owned if o.level == Level.INDIVIDUAL],
            "other_levels": [o for o in owned if o.level != Level.INDIVIDUAL],
            "elsewhere": elsewhere,
            "change_requests": [
                (o, next(iter(o.reviews.all()), None))
                for o in readable
                if o.review_status == ReviewStatus.CHANGES_REQUESTED
            ],
            "can_add": not cycle.is_frozen
            and permissions.can_create_objective(
                viewer, level=Level.INDIVIDUAL, team_id=None, owner=person
            ),
        }
    return render_page(request, "cycles/person_okrs.html", context)


def team_okrs(request, org_slug, team_slug):
    org, viewer = request.org, request.membership
    team = get_object_or_404(Team.objects.for_org(org).select_related("parent"), slug=team_slug)
    cycles = load_cycles(org)
    cycle = pick_cycle(request, cycles)
    people = list(
        TeamMembership.objects.for_org(org)
        .filter(team=team, membership__active=True)
        .select_related("membership__user")
        .order_by("-is_lead", "membership__user__full_name")
    )
    context = {"team": team, "cycles": cycles, "cycle": cycle, "team_members": people}
    if cycle is not None:
        objectives = list(objectives_with_key_results(org, cycle).filter(team=team))
        expected = decorate(objectives, viewer, cycle, org=org, with_key_results=True)
        context |= {
            "expected": expected,
            "team_level": [o for o in objectives if o.level == Level.TEAM],
            "individual": [o for o in objectives if o.level == Level.INDIVIDUAL],
            "can_add": not cycle.is_frozen
            and permissions.can_create_objective(
                viewer, level=Level.TEAM, team_id=team.pk, owner=viewer
            ),
        }
    return render_page(request, "cycles/team_okrs.html", context)
