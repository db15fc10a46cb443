"""Who may do what with OKRs: the role table of DESIGN.md in one place.

| action                                   | member | manager of the team | OKR Master | admin |
| read public OKRs                         | yes    | yes                 | yes        | yes   |
| edit own objectives / KRs                | yes    | yes                 | yes        | yes   |
| edit the team's OKRs                     | -      | yes                 | -          | yes   |
| review OKR quality, comment on any OKR   | -      | -                   | yes        | yes   |
| cycles                                   | -      | -                   | -          | admin |

"Manager of the team" means a lead of the team or of a team above it (``managed_team_ids``).
A person's direct manager may also edit that person's public individual OKRs.

A private objective is read (and so edited) only by its owner, the managers of its team
(the objective's own team: one without a team has none) and admins, as the OKR core issue
says: not by the owner's direct manager as such, who may lead no team of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Q

from okrapp.models import Membership

if TYPE_CHECKING:
    from cycles.models import KeyResult, Objective


def can_manage_cycles(m: Membership) -> bool:
    return m.is_admin


def can_review(m: Membership) -> bool:
    return m.is_admin or m.is_okr_master


def can_read_objective(m: Membership, objective: Objective) -> bool:
    """Private objectives: their owner, the managers of the objective's team and admins.

    Reads no related row (the owner's id, the team's id), so lists stay cheap.
    :func:`readable_objectives_q` is the same rule in SQL.
    """
    if not objective.is_private or m.is_admin or objective.owner_id == m.pk:
        return True
    return objective.team_id is not None and objective.team_id in m.managed_team_ids


def readable_objectives_q(
    m: Membership, prefix: str = "", managed_team_ids: Iterable[int] | None = None
) -> Q | None:
    """:func:`can_read_objective` as a filter on the objectives at ``prefix`` (e.g.
    ``"key_result__objective__"``); None for an admin, who reads everything."""
    from cycles.models import Visibility

    if m.is_admin:
        return None
    if managed_team_ids is None:
        managed_team_ids = m.managed_team_ids
    return (
        Q(**{f"{prefix}visibility": Visibility.PUBLIC})
        | Q(**{f"{prefix}owner": m})
        | Q(**{f"{prefix}team_id__in": managed_team_ids})
    )


def manages_person(
    m: Membership, person_id: int, person_manager_id: int | None, person_team_ids: set[int]
) -> bool:
    return person_manager_id == m.pk or bool(person_team_ids & m.managed_team_ids)


def can_create_objective(
    m: Membership, *, level: int, team_id: int | None, owner: Membership
) -> bool:
    from cycles.models import Level

    if m.is_admin:
        return True
    if level == Level.COMPANY:
        return False
    if level == Level.TEAM:
        return team_id is not None and team_id in m.managed_team_ids
    if owner.pk == m.pk:
        return True
    return manages_person(m, owner.pk, owner.manager_id, owner.team_ids)


def can_edit_objective(m: Membership, objective: Objective) -> bool:
    from cycles.models import Level

    if m.is_admin or objective.owner_id == m.pk:
        return True
    if objective.level == Level.COMPANY:
        return False
    if objective.team_id is not None and objective.team_id in m.managed_team_ids:
        return True
    if objective.level == Level.INDIVIDUAL and not objective.is_private:
        owner = objective.owner
        return manages_person(m, owner.pk, owner.manager_id, owner.team_ids)
    return False


def can_edit_key_result(m: Membership, key_result: KeyResult) -> bool:
    return key_result.owner_id == m.pk or can_edit_objective(m, key_result.objective)
