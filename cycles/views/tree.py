"""The alignment tree: mission → company → team → individual objectives of one cycle; and
one objective's path up to the mission ("how does my work connect to the mission")."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from cycles import scoring
from cycles.models import Alignment, Level, Objective
from cycles.views.common import decorate, get_cycle, get_readable_objective, load_cycles
from okrapp.rendering import render_page


@dataclass
class Node:
    objective: Objective
    children: list[Node] = field(default_factory=list)


def build_tree(objectives: list[Objective], links) -> tuple[list[Node], list[Node]]:
    """Nest objectives under the ones they contribute to (in memory; no queries).

    Returns the company objectives and the objectives placed under no parent (orphans,
    or aligned only to something not shown). An objective aligned to several parents
    appears under each; a loop (refused by the services) is cut where it closes.
    """
    by_id = {o.pk: o for o in objectives}
    children: dict[int, list[Objective]] = defaultdict(list)
    placed = set()
    for child_id, parent_id in links:
        if child_id in by_id and parent_id in by_id:
            children[parent_id].append(by_id[child_id])
            placed.add(child_id)

    def order(o: Objective):
        # Blanked private objectives sort by level and id only: their title stays hidden.
        return (o.level, o.title.lower() if o.readable else "", o.pk)

    def node(o: Objective, path: frozenset[int]) -> Node:
        inside = path | {o.pk}
        return Node(
            o,
            [node(c, inside) for c in sorted(children[o.pk], key=order) if c.pk not in inside],
        )

    roots = [
        node(o, frozenset()) for o in sorted(objectives, key=order) if o.level == Level.COMPANY
    ]
    unplaced = [
        node(o, frozenset())
        for o in sorted(objectives, key=order)
        if o.level != Level.COMPANY and o.pk not in placed
    ]
    return roots, unplaced


def alignment_tree(request, org_slug, cycle_id):
    org, viewer = request.org, request.membership
    cycle = get_cycle(request, cycle_id)
    objectives = list(
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .select_related("owner__user", "team")
    )
    expected = decorate(objectives, viewer, cycle, org=org)
    links = list(
        Alignment.objects.for_org(org)
        .filter(child__cycle=cycle)
        .values_list("child_id", "parent_id")
    )
    linked = {child_id for child_id, _parent in links}
    for objective in objectives:
        objective.orphan = objective.level != Level.COMPANY and objective.pk not in linked
    roots, unplaced = build_tree(objectives, links)
    # The mission's figure: the mean of the company objectives the viewer may read.
    company = [
        o.progress
        for o in objectives
        if o.level == Level.COMPANY and o.readable and o.progress is not None
    ]
    mission_progress = scoring.objective_progress(company) if company else None
    context = {
        "cycle": cycle,
        "cycles": load_cycles(org),
        "expected": expected,
        "roots": roots,
        "unplaced": unplaced,
        "objective_count": len(objectives),
        "orphan_count": sum(o.orphan for o in objectives),
        "mission_progress": mission_progress,
        "mission_track": scoring.status(mission_progress, expected) if company else None,
        # Folded down to the company objectives (a link, so it works without JavaScript).
        "collapsed": request.GET.get("collapsed") == "1",
    }
    return render_page(request, "cycles/alignment_tree.html", context)


def alignment_current(request, org_slug):
    """The tree of the current cycle (active, else planning, …): the navigation's link."""
    cycles = load_cycles(request.org)
    if not cycles:
        messages.info(request, _("There is no cycle yet, so there is nothing to align."))
        return redirect("cycle_list", org_slug=request.org.slug)
    return redirect("alignment_tree", org_slug=request.org.slug, cycle_id=cycles[0].pk)


#: More routes than this up to the mission are not drawn (alignment is usually a chain).
MAX_PATHS = 12


def objective_path(request, org_slug, objective_id):
    """How an objective connects to the mission: every chain of objectives it contributes
    to, up to the company objectives and the mission. Private objectives on the way that
    the viewer may not read keep their place, blanked."""
    org, viewer = request.org, request.membership
    objective = get_readable_objective(request, objective_id)
    cycle = objective.cycle
    parents: dict[int, list[int]] = defaultdict(list)
    for child_id, parent_id in (
        Alignment.objects.for_org(org)
        .filter(child__cycle=cycle)
        .order_by("parent_id")
        .values_list("child_id", "parent_id")
    ):
        parents[child_id].append(parent_id)
    above, stack = set(), [objective.pk]
    while stack:
        for parent_id in parents.get(stack.pop(), ()):
            if parent_id not in above:
                above.add(parent_id)
                stack.append(parent_id)
    above.discard(objective.pk)
    found = {
        o.pk: o
        for o in Objective.objects.for_org(org)
        .filter(pk__in=above)
        .current()
        .select_related("owner__user", "team")
    }
    found[objective.pk] = objective
    expected = decorate(list(found.values()), viewer, cycle, org=org)

    paths: list[list[Objective]] = []

    def climb(current: Objective, chain: list[Objective]) -> None:
        if len(paths) >= MAX_PATHS:
            return
        chain = [*chain, current]
        ups = [found[p] for p in parents.get(current.pk, ()) if p in found]
        ups = [o for o in ups if o not in chain]
        if not ups:
            paths.append(list(reversed(chain)))
            return
        for up in sorted(ups, key=lambda o: (o.level, o.pk)):
            climb(up, chain)

    climb(objective, [])
    routes = [
        {"objectives": path, "reaches_company": path[0].level == Level.COMPANY} for path in paths
    ]
    context = {
        "objective": objective,
        "cycle": cycle,
        "expected": expected,
        "routes": routes,
        "truncated": len(paths) >= MAX_PATHS,
        "connected": any(r["reaches_company"] for r in routes),
    }
    return render_page(request, "cycles/objective_path.html", context)
