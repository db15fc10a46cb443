"""The alignment tree: mission → company → team → individual objectives of one cycle; and
one objective's path up to the mission ("how does my work connect to the mission")."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cycles import permissions, scoring
from cycles.models import Alignment, Level, Objective, Visibility
from cycles.views.common import decorate, get_cycle, get_readable_objective, load_cycles
from okrapp import cache as page_cache
from okrapp.rendering import render_page


@dataclass
class Node:
    objective: Objective
    children: list[Node] = field(default_factory=list)
    #: Objectives under this one left out of the page (loaded on demand).
    deferred: int = 0


#: Beyond this many objectives in a cycle the tree shows two levels and loads each deeper
#: branch when it is opened: the whole tree of a 1,000-person organisation is megabytes.
TREE_INLINE_LIMIT = 400


def build_tree(
    objectives: list[Objective],
    links,
    *,
    depth_limit: int | None = None,
    open_ids: frozenset[int] = frozenset(),
    child_ids: dict[int, list[int]] | None = None,
    placed_ids: set[int] | None = None,
) -> tuple[list[Node], list[Node]]:
    """Nest objectives under the ones they contribute to (in memory; no queries).

    Returns the company objectives and the objectives placed under no parent (orphans,
    or aligned only to something not shown). An objective aligned to several parents
    appears under each; a loop (refused by the services) is cut where it closes.

    With ``depth_limit``, the children of a node at that depth (unless it is in
    ``open_ids``) are not nested: the node says how many there are (``deferred``).
    ``child_ids`` and ``placed_ids`` then describe the whole cycle, of which ``objectives``
    holds only the part on the page.
    """
    by_id = {o.pk: o for o in objectives}
    children: dict[int, list[Objective]] = defaultdict(list)
    placed = set()
    for child_id, parent_id in links:
        if child_id in by_id and parent_id in by_id:
            children[parent_id].append(by_id[child_id])
            placed.add(child_id)
    if placed_ids is not None:
        placed = placed_ids

    def order(o: Objective):
        # Blanked private objectives sort by level and id only: their title stays hidden.
        return (o.level, o.title.lower() if o.readable else "", o.pk)

    def node(o: Objective, path: frozenset[int], depth: int) -> Node:
        inside = path | {o.pk}
        if depth_limit is not None and depth >= depth_limit and o.pk not in open_ids:
            below = [c for c in (child_ids or {}).get(o.pk, ()) if c not in inside]
            return Node(o, [], deferred=len(below))
        return Node(
            o,
            [
                node(c, inside, depth + 1)
                for c in sorted(children[o.pk], key=order)
                if c.pk not in inside
            ],
        )

    roots = [
        node(o, frozenset(), 0) for o in sorted(objectives, key=order) if o.level == Level.COMPANY
    ]
    unplaced = [
        node(o, frozenset(), 0)
        for o in sorted(objectives, key=order)
        if o.level != Level.COMPANY and o.pk not in placed
    ]
    return roots, unplaced


def _below(child_ids: dict[int, list[int]], start: int) -> set[int]:
    """Every objective under ``start`` (loops cut)."""
    seen: set[int] = set()
    stack = [start]
    while stack:
        for child in child_ids.get(stack.pop(), ()):
            if child not in seen and child != start:
                seen.add(child)
                stack.append(child)
    return seen


def _above(parent_ids: dict[int, list[int]], start: int) -> set[int]:
    return _below(parent_ids, start)


def _subtree(by_id: dict[int, Objective], child_ids: dict[int, list[int]], top: int) -> Node:
    """The branch under ``top``, ordered as in the tree (loops cut where they close)."""

    def order(o: Objective):
        return (o.level, o.title.lower() if o.readable else "", o.pk)

    def node(o: Objective, path: frozenset[int]) -> Node:
        inside = path | {o.pk}
        kids = [by_id[c] for c in child_ids.get(o.pk, ()) if c in by_id and c not in inside]
        return Node(o, [node(c, inside) for c in sorted(kids, key=order)])

    return node(by_id[top], frozenset())


def hidden_objective_ids(org, viewer, cycle) -> list[int]:
    """The private objectives of ``cycle`` that ``viewer`` may not read, sorted (one query;
    none for an admin). ``permissions.can_read_objective`` in SQL: it is all that makes one
    person's tree or company view differ from another's, so it is part of their cache key."""
    readable = permissions.readable_objectives_q(viewer)
    if readable is None:
        return []
    return sorted(
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .filter(visibility=Visibility.PRIVATE)
        .exclude(readable)
        .values_list("pk", flat=True)
    )


@page_cache.per_viewer("tree")
def alignment_tree(request, org_slug, cycle_id):
    """The whole tree for a cycle of ordinary size. For a large one, two levels under the
    mission and each deeper branch on demand: ``?branch=<objective id>`` answers htmx with
    that branch's objectives and a browser without JavaScript with the page, that branch
    open; ``?all=1`` draws everything.

    The drawn tree (everything below the page header) is cached per organisation data
    version, day, language, view and the private objectives the viewer may not read; a
    branch opened on demand is small and drawn each time. The whole answer is then kept
    per viewer and address at the data version."""
    org, viewer = request.org, request.membership
    cycle = get_cycle(request, cycle_id)
    if request.GET.get("branch", ""):
        return _draw_tree(request, cycle)
    key = page_cache.key(
        "tree",
        org,
        cycle.pk,
        cycle.today(),
        get_language(),
        request.GET.get("all") == "1",
        request.GET.get("collapsed") == "1",
        org.mission,
        hidden_objective_ids(org, viewer, cycle),
    )
    drawn = cache.get(key)
    if drawn is None:
        context = _tree_context(request, cycle)
        drawn = {
            name: context[name]
            for name in ("objective_count", "orphan_count", "lazy", "large", "collapsed")
        }
        drawn["tree_html"] = render_to_string(
            "cycles/alignment_tree.html#tree-body", context, request
        )
        cache.set(key, drawn, page_cache.TTL)
    context = {
        **drawn,
        "cycle": cycle,
        "cycles": load_cycles(org),
        "tree_html": mark_safe(drawn["tree_html"]),  # noqa: S308 - rendered above, escaped
    }
    return render_page(request, "cycles/alignment_tree.html", context)


def _draw_tree(request, cycle):
    context = _tree_context(request, cycle)
    if isinstance(context, HttpResponse):
        return context
    context["cycles"] = load_cycles(request.org)
    return render_page(request, "cycles/alignment_tree.html", context)


def _tree_context(request, cycle):
    """What the tree draws (or, for one branch asked by htmx, that branch's response)."""
    org, viewer = request.org, request.membership
    current = (
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .select_related("owner__user", "team")
        .order_by("pk")
    )
    # The outline first (id and level of every objective, a light query), then only the
    # objectives on the page: all of them in a cycle of ordinary size.
    levels = dict(current.order_by().values_list("pk", "level"))
    large = len(levels) > TREE_INLINE_LIMIT
    links = [
        (child_id, parent_id)
        for child_id, parent_id in Alignment.objects.for_org(org)
        .filter(child__cycle=cycle)
        .values_list("child_id", "parent_id")
        if child_id in levels and parent_id in levels
    ]
    child_ids: dict[int, list[int]] = defaultdict(list)
    parent_ids: dict[int, list[int]] = defaultdict(list)
    for child_id, parent_id in links:
        child_ids[parent_id].append(child_id)
        parent_ids[child_id].append(parent_id)
    placed = set(parent_ids)
    raw_branch = request.GET.get("branch", "")
    branch = int(raw_branch) if raw_branch.isdigit() and int(raw_branch) in levels else None
    if raw_branch and branch is None:
        if request.htmx:
            raise Http404("No such objective in this cycle.")
        messages.info(request, _("That branch is not in this cycle; showing the tree."))
    lazy = large and request.GET.get("all") != "1"
    open_ids: frozenset[int] = frozenset()
    if lazy:
        roots = {pk for pk, level in levels.items() if level == Level.COMPANY or pk not in placed}
        load = roots | {c for r in roots for c in child_ids.get(r, ())}
        if branch is not None:
            open_ids = frozenset({branch} | _above(parent_ids, branch))
            load |= {branch} | _below(child_ids, branch) | open_ids
            load |= {c for o in open_ids for c in child_ids.get(o, ())}
        current = current.filter(pk__in=load)
    objectives = list(current)
    expected = decorate(objectives, viewer, cycle, org=org)
    for objective in objectives:
        objective.orphan = objective.level != Level.COMPANY and objective.pk not in placed
    if lazy and branch is not None and request.htmx:
        # One branch, opened in the page: its objectives and everything under them.
        node = _subtree({o.pk: o for o in objectives}, child_ids, branch)
        return render_page(
            request,
            "cycles/alignment_tree.html",
            {"node": node, "org": org, "expected": expected, "cycle": cycle},
            partial="tree-branch",
        )
    roots_, unplaced = build_tree(
        objectives,
        links,
        depth_limit=1 if lazy else None,
        open_ids=open_ids,
        child_ids=child_ids,
        placed_ids=placed if lazy else None,
    )
    # The mission's figure: the mean of the company objectives the viewer may read.
    company = [
        o.progress
        for o in objectives
        if o.level == Level.COMPANY and o.readable and o.progress is not None
    ]
    mission_progress = scoring.objective_progress(company) if company else None
    context = {
        "cycle": cycle,
        "expected": expected,
        "roots": roots_,
        "unplaced": unplaced,
        "objective_count": len(levels),
        "orphan_count": sum(
            1 for pk, level in levels.items() if level != Level.COMPANY and pk not in placed
        ),
        "mission_progress": mission_progress,
        "mission_track": scoring.status(mission_progress, expected) if company else None,
        # Folded down to the company objectives (a link, so it works without JavaScript).
        "collapsed": request.GET.get("collapsed") == "1",
        "lazy": lazy,
        "large": large,
        "branch": branch,
    }
    return context


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
