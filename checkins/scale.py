"""A realistic organisation at scale, built in bulk (``manage.py seed_scale`` and bench/).

People in a team tree with managers, aligned company → team → individual OKRs, a check-in
for every KR in every week of the active cycle, and optionally end-of-quarter scores.
Rows go in with ``bulk_create`` (no per-row services, no history rows): this is load data,
not a demo, and it must build 1,000 people / 5,000 KRs / 13 weeks in well under two minutes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from checkins.models import CheckIn
from checkins.services import current_week
from cycles import scoring
from cycles import services as okr_services
from cycles.models import (
    Alignment,
    Cycle,
    CycleState,
    KeyResult,
    KeyResultScore,
    Level,
    Objective,
)
from okrapp.models import Membership, Organization, Team, TeamMembership, User

PASSWORD = "scale-pass-2026"  # noqa: S105 - load data; printed by the command


@dataclass
class ScaleResult:
    org: Organization
    people: int
    teams: int
    key_results: int
    checkins: int


def _chunks(rows, size=5000):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@transaction.atomic
def build(
    *,
    slug: str,
    people: int,
    teams: int,
    krs: int,
    weeks: int,
    scores: bool = False,
    seed: int = 1,
) -> ScaleResult:
    rng = random.Random(seed)  # noqa: S311 - repeatable load data
    org = Organization.objects.create(
        name=f"Scale {slug}",
        slug=slug,
        mission="Measure what matters at scale.",
        vision="Every team aligned, every week.",
        time_zone="Asia/Taipei",
    )
    password = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [
            User(email=f"p{i}@{slug}.example", full_name=f"Person {i}", password=password)
            for i in range(people)
        ],
        batch_size=2000,
    )
    members = Membership.objects.bulk_create(
        [
            Membership(
                organization=org,
                user=u,
                time_zone=rng.choice(
                    ["Asia/Taipei", "Asia/Taipei", "Europe/Berlin", "America/New_York"]
                ),
                role=Membership.Role.ADMIN if i == 0 else Membership.Role.MEMBER,
            )
            for i, u in enumerate(users)
        ],
        batch_size=2000,
    )
    admin = members[0]

    # Teams: a tree ten wide at the top; every team gets a lead and its share of people.
    team_rows: list[Team] = []
    for i in range(teams):
        parent = None if i < 10 else team_rows[rng.randrange(0, min(i, 10 + i // 3))]
        team = Team(organization=org, name=f"Team {i}", slug=f"team-{i}", parent=parent)
        Team.objects.bulk_create([team])  # parents need ids before children reference them
        team_rows.append(team)
    others = members[1:]
    leads = others[:teams]
    staff = others[teams:]
    links = []
    lead_of = {}
    for team, lead in zip(team_rows, leads, strict=False):
        links.append(TeamMembership(organization=org, team=team, membership=lead, is_lead=True))
        lead_of[team.pk] = lead
        lead.role = Membership.Role.MANAGER
    team_of_staff = {}
    for i, person in enumerate(staff):
        team = team_rows[i % len(team_rows)]
        links.append(TeamMembership(organization=org, team=team, membership=person))
        team_of_staff[person.pk] = team
        person.manager_id = lead_of[team.pk].pk
    for team, lead in zip(team_rows, leads, strict=False):
        lead.manager_id = lead_of[team.parent_id].pk if team.parent_id else admin.pk
    TeamMembership.objects.bulk_create(links, batch_size=5000)
    Membership.objects.for_org(org).bulk_update(others, ["manager", "role"], batch_size=2000)

    week = current_week(org)
    start = week - timedelta(weeks=weeks - 1)
    cycle = Cycle.objects.create(
        organization=org,
        name="Scale quarter",
        start_date=start,
        end_date=start + timedelta(weeks=13) - timedelta(days=1),
        state=CycleState.SCORING if scores else CycleState.ACTIVE,
    )

    # Objectives: 5 company, one per team, then individual ones until the KR budget is met.
    company = Objective.objects.bulk_create(
        [
            Objective(
                organization=org,
                cycle=cycle,
                title=f"Company goal {i}",
                level=Level.COMPANY,
                owner=admin,
                mission_link="Measure what matters",
                status="published",
            )
            for i in range(5)
        ]
    )
    team_objs = Objective.objects.bulk_create(
        [
            Objective(
                organization=org,
                cycle=cycle,
                title=f"{t.name} goal",
                level=Level.TEAM,
                team=t,
                owner=lead_of[t.pk],
                status="published",
                type=rng.choice(["committed", "aspirational"]),
            )
            for t in team_rows
        ],
        batch_size=2000,
    )
    per_objective = 2
    remaining = max(krs - 2 * (len(company) + len(team_objs)), 0)
    individual_owners = (
        [staff[i % len(staff)] for i in range(remaining // per_objective)] if staff else []
    )
    individual = Objective.objects.bulk_create(
        [
            Objective(
                organization=org,
                cycle=cycle,
                title=f"Personal goal {i}",
                level=Level.INDIVIDUAL,
                owner=owner,
                status="published",
                team=team_of_staff[owner.pk],
                visibility="private" if i % 40 == 0 else "public",
            )
            for i, owner in enumerate(individual_owners)
        ],
        batch_size=2000,
    )
    team_obj_of = {o.team_id: o for o in team_objs}
    alignments = [
        Alignment(organization=org, child=o, parent=company[i % len(company)])
        for i, o in enumerate(team_objs)
    ]
    alignments += [
        Alignment(organization=org, child=o, parent=team_obj_of[o.team_id]) for o in individual
    ]
    Alignment.objects.bulk_create(alignments, batch_size=5000)

    # Key results with a start, a target and a value that wanders toward it.
    objectives = company + team_objs + individual
    kr_rows = []
    for i in range(min(krs, 2 * len(objectives))):
        objective = objectives[i % len(objectives)]
        target = Decimal(rng.choice([10, 20, 50, 100, 250]))
        kr_rows.append(
            KeyResult(
                organization=org,
                objective=objective,
                title=f"Metric {i} from 0 to {target}",
                owner=objective.owner,
                start_value=Decimal(0),
                target_value=target,
                confidence=rng.randint(3, 9),
                position=i // len(objectives),
            )
        )
    pace = {id(kr): Decimal(rng.randint(40, 130)) / 100 for kr in kr_rows}
    checkins = []
    stamp = timezone.now()
    for kr in kr_rows:
        value = Decimal(0)
        for w in range(weeks):
            monday = start + timedelta(weeks=w)
            share = Decimal(w + 1) / 13
            value = (kr.target_value * share * pace[id(kr)]).quantize(Decimal("0.01"))
            checkins.append((kr, monday, value))
        kr.current_value = value
        kr.progress = kr.compute_progress()
    KeyResult.objects.bulk_create(kr_rows, batch_size=2000)
    checkin_rows = [
        CheckIn(
            organization=org,
            key_result=kr,
            week=monday,
            value=value,
            confidence=kr.confidence,
            owner_id=kr.owner_id,
            recorded_by_id=kr.owner_id,
            need_help=rng.random() < 0.03,
            created_at=stamp,
            updated_at=stamp,
        )
        for kr, monday, value in checkins
    ]
    for chunk in _chunks(checkin_rows):
        CheckIn.objects.bulk_create(chunk)
    progress_of = {}
    for kr in kr_rows:
        progress_of.setdefault(kr.objective_id, []).append((kr.progress, kr.weight))
    for objective in objectives:
        objective.progress = scoring.objective_progress(progress_of.get(objective.pk, []))
    Objective.objects.for_org(org).bulk_update(objectives, ["progress"], batch_size=2000)
    okr_services.objectives_rollup_organisation(org.pk)
    if scores:
        KeyResultScore.objects.bulk_create(
            [
                KeyResultScore(
                    organization=org,
                    key_result=kr,
                    score=scoring.suggested_score(kr.progress),
                    suggested=scoring.suggested_score(kr.progress),
                    scored_by_id=kr.owner_id,
                    reason=rng.choice(
                        ["achieved", "too_ambitious", "priorities_changed", "blocked"]
                    ),
                    what_to_change="Plan dependencies earlier.",
                )
                for kr in kr_rows
                if rng.random() < 0.9
            ],
            batch_size=5000,
        )
    return ScaleResult(
        org=org,
        people=len(members),
        teams=len(team_rows),
        key_results=len(kr_rows),
        checkins=len(checkin_rows),
    )
