"""The team tree as the dashboards walk it, and which objectives a viewer may read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import (
    Q,
)

from cycles.models import (
    Visibility,
)
from okrapp.models import Membership, Organization, Team


@dataclass
class TeamNode:
    team: Team
    depth: int
    children: list[TeamNode] = field(default_factory=list)

    def walk(self) -> Iterable[TeamNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def subtree_ids(self) -> set[int]:
        return {node.team.pk for node in self.walk()}


def team_forest(teams: Sequence[Team]) -> list[TeamNode]:
    """The organisation's teams as trees, children by name (no queries)."""
    by_parent: dict[int | None, list[Team]] = defaultdict(list)
    known = {t.pk for t in teams}
    for team in sorted(teams, key=lambda t: t.name.lower()):
        by_parent[team.parent_id if team.parent_id in known else None].append(team)

    def grow(team: Team, depth: int, seen: frozenset[int]) -> TeamNode:
        inside = seen | {team.pk}
        return TeamNode(
            team,
            depth,
            [grow(c, depth + 1, inside) for c in by_parent[team.pk] if c.pk not in inside],
        )

    return [grow(t, 0, frozenset()) for t in by_parent[None]]


def find_node(forest: Iterable[TeamNode], team_id: int) -> TeamNode | None:
    for root in forest:
        for node in root.walk():
            if node.team.pk == team_id:
                return node
    return None


def ancestors_of(teams: Sequence[Team], team: Team) -> list[Team]:
    """The teams above ``team``, the top one first (no queries)."""
    by_id = {t.pk: t for t in teams}
    chain: list[Team] = []
    parent = by_id.get(team.parent_id)
    while parent is not None and parent not in chain and parent != team:
        chain.append(parent)
        parent = by_id.get(parent.parent_id)
    return list(reversed(chain))


def load_teams(org: Organization) -> list[Team]:
    """Every team of the organisation (one query), ready for links."""
    teams = list(Team.objects.for_org(org))
    for team in teams:
        team.organization = org
    return teams


def readable_objectives_q(viewer: Membership, prefix: str = "") -> Q | None:
    """The SQL twin of ``permissions.can_read_objective`` (None: everything is readable)."""
    if viewer.is_admin:
        return None
    return (
        Q(**{f"{prefix}visibility": Visibility.PUBLIC})
        | Q(**{f"{prefix}owner": viewer})
        | Q(**{f"{prefix}team_id__in": viewer.managed_team_ids})
    )
