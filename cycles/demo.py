"""Demo OKRs for Acme: last quarter closed, this quarter active (idempotent).

Everything is created through ``cycles.services`` so the demo obeys the same rules as
people do: alignment upward, KR definitions checked, transitions recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from cycles import services
from cycles.models import Cycle, CycleState, Level
from cycles.quarters import quarter_containing
from okrapp.models import Membership, Organization, Team


@dataclass
class KR:
    title: str
    owner: str
    start: str | None = None
    target: str | None = None
    current: str | None = None
    kind: str = "number"
    direction: str = "increase"
    unit: str = ""
    currency: str = ""
    lower: str | None = None
    upper: str | None = None
    weight: str = "1"
    confidence: int = 6
    initiatives: list[tuple[str, str, str]] = field(default_factory=list)  # title, status, url


@dataclass
class Obj:
    key: str
    title: str
    owner: str
    level: int
    team: str | None = None
    type: str = "committed"
    visibility: str = "public"
    aligned_to: tuple[str, ...] = ()
    mission_link: str = ""
    why: str = ""
    krs: list[KR] = field(default_factory=list)


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


CURRENT = [
    Obj(
        "setup",
        "Make Acme robots the easiest to set up in a small workshop",
        "alice",
        Level.COMPANY,
        mission_link="A helpful robot in every small workshop",
        why="Workshops buy the robot they can get running on a Saturday morning.",
        krs=[
            KR(
                "Cut median setup time from 6 hours to 90 minutes",
                "bob",
                "360",
                "90",
                "210",
                direction="decrease",
                unit="min",
                confidence=6,
            ),
            KR(
                "Grow the share of self-installed robots from 35 % to 70 %",
                "bob",
                "35",
                "70",
                "52",
                kind="percent",
                confidence=7,
            ),
            KR(
                "Keep support tickets per robot at most 2 a month",
                "dana",
                target="2",
                current="1.6",
                direction="stay_at_most",
                unit="tickets",
                confidence=8,
            ),
        ],
    ),
    Obj(
        "sea",
        "Grow into Southeast Asia",
        "alice",
        Level.COMPANY,
        type="aspirational",
        mission_link="Every small workshop, starting with Asia",
        krs=[
            KR(
                "New revenue from Southeast Asia from 0 to 1.2 M USD",
                "dana",
                "0",
                "1200000",
                "380000",
                kind="currency",
                currency="USD",
                confidence=5,
            ),
            KR(
                "Sign 3 distribution partners", "dana", "0", "3", "1", unit="partners", confidence=5
            ),
            KR(
                "ASEAN safety certification granted",
                "bob",
                kind="milestone",
                current="0",
                confidence=4,
            ),
        ],
    ),
    Obj(
        "wizard",
        "Ship a setup wizard workshop owners love",
        "bob",
        Level.TEAM,
        team="Engineering",
        aligned_to=("setup",),
        krs=[
            KR(
                "Wizard completion rate from 40 % to 85 %",
                "bob",
                "40",
                "85",
                "61",
                kind="percent",
                confidence=7,
                initiatives=[
                    ("Guided calibration screens", "done", ""),
                    (
                        "Offline mode for the wizard",
                        "in_progress",
                        "https://tracker.acme.example/ENG-412",
                    ),
                ],
            ),
            KR(
                "Keep crash-free setup sessions at least 99.5 %",
                "frank",
                target="99.5",
                current="99.7",
                kind="percent",
                direction="stay_at_least",
                confidence=8,
            ),
        ],
    ),
    Obj(
        "ota",
        "Make firmware updates boring",
        "frank",
        Level.TEAM,
        team="Platform",
        aligned_to=("wizard",),
        krs=[
            KR(
                "Cut failed over-the-air updates from 4 % to 0.5 %",
                "ivan",
                "4",
                "0.5",
                "2.1",
                kind="percent",
                direction="decrease",
                confidence=6,
                initiatives=[("Staged rollouts", "done", ""), ("Delta updates", "done", "")],
            ),
            KR(
                "Implement rollback on the robot",
                "erin",
                kind="milestone",
                current="0",
                confidence=5,
            ),
        ],
    ),
    Obj(
        "recover",
        "Robots recover from errors on their own",
        "grace",
        Level.TEAM,
        team="Robot Software",
        aligned_to=("setup",),
        krs=[
            KR(
                "Raise auto-recovered faults from 20 % to 60 %",
                "grace",
                "20",
                "60",
                "31",
                kind="percent",
                confidence=4,
            ),
            KR(
                "Keep arm calibration drift between -0.5 and 0.5 mm",
                "heidi",
                lower="-0.5",
                upper="0.5",
                current="0.3",
                direction="stay_between",
                unit="mm",
                confidence=7,
            ),
        ],
    ),
    Obj(
        "pipeline",
        "Open Southeast Asia for sales",
        "dana",
        Level.TEAM,
        team="Sales & Marketing",
        aligned_to=("sea",),
        krs=[
            KR(
                "Qualified leads in Southeast Asia from 0 to 200",
                "judy",
                "0",
                "200",
                "64",
                unit="leads",
                confidence=6,
            ),
            KR(
                "Demo-to-order conversion from 10 % to 25 %",
                "ken",
                "10",
                "25",
                "14",
                kind="percent",
                confidence=5,
            ),
        ],
    ),
    Obj(
        "territories",
        "Redraw the sales territories",
        "dana",
        Level.TEAM,
        team="Sales & Marketing",
        visibility="private",
        aligned_to=("sea",),
        why="Confidential until the reorganisation is announced.",
        krs=[
            KR("Territories with a named owner from 2 to 6", "dana", "2", "6", "3", confidence=6),
            KR(
                "Accounts reassigned without churn from 0 to 40",
                "dana",
                "0",
                "40",
                "12",
                confidence=5,
            ),
        ],
    ),
    Obj(
        "calibration",
        "Make calibration self-explanatory",
        "carol",
        Level.INDIVIDUAL,
        aligned_to=("recover",),
        krs=[
            KR(
                "Cut calibration help requests from 30 to 10 a month",
                "carol",
                "30",
                "10",
                "19",
                direction="decrease",
                confidence=6,
            ),
            KR(
                "Raise first-try calibration success from 50 % to 90 %",
                "carol",
                "50",
                "90",
                "68",
                kind="percent",
                confidence=7,
            ),
        ],
    ),
    Obj(
        "webinars",
        "Fill the partner pipeline",
        "judy",
        Level.INDIVIDUAL,
        aligned_to=("pipeline",),
        krs=[
            KR("Partner webinars held from 0 to 6", "judy", "0", "6", "2", confidence=7),
            KR(
                "Webinar attendees who book a demo from 5 % to 15 %",
                "judy",
                "5",
                "15",
                "7",
                kind="percent",
                confidence=5,
            ),
        ],
    ),
    Obj(
        "rust",
        "Learn Rust",
        "ivan",
        Level.INDIVIDUAL,
        krs=[KR("Rust course modules finished from 0 to 12", "ivan", "0", "12", "5")],
    ),
]

PREVIOUS = [
    Obj(
        "payback",
        "Prove our robots pay for themselves",
        "alice",
        Level.COMPANY,
        mission_link="A robot that pays for itself within a year",
        krs=[
            KR(
                "Customers with payback under 12 months from 30 % to 60 %",
                "dana",
                "30",
                "60",
                "58",
                kind="percent",
            ),
            KR("Publish 5 customer case studies", "judy", "0", "5", "5"),
            KR(
                "Cut the price of the starter kit from 9,000 to 7,500 USD",
                "alice",
                "9000",
                "7500",
                "8200",
                kind="currency",
                currency="USD",
                direction="decrease",
            ),
        ],
    ),
]


def seed_okrs(org: Organization) -> None:
    """The previous quarter (closed) and the current one (active), unless they exist."""
    people = {
        m.user.email.split("@")[0]: m
        for m in Membership.objects.for_org(org).select_related("user")
    }
    teams = {t.name: t for t in Team.objects.for_org(org)}
    admin = people["alice"]
    today = timezone.localtime(timezone.now(), org.zoneinfo).date()
    current_q = quarter_containing(today, org.fiscal_year_start_month)
    previous_q = quarter_containing(
        current_q.start - timedelta(days=1), org.fiscal_year_start_month
    )
    existing = set(Cycle.objects.for_org(org).values_list("name", flat=True))
    if previous_q.name not in existing:
        cycle = services.cycle_create(
            org=org,
            by=admin,
            name=previous_q.name,
            start_date=previous_q.start,
            end_date=previous_q.end,
        )
        _seed_objectives(org, admin, cycle, PREVIOUS, people, teams)
        for state in (
            CycleState.PLANNING,
            CycleState.ACTIVE,
            CycleState.SCORING,
            CycleState.CLOSED,
        ):
            services.cycle_transition(org=org, by=admin, cycle=cycle, to_state=state)
    if current_q.name not in existing:
        cycle = services.cycle_create(
            org=org,
            by=admin,
            name=current_q.name,
            start_date=current_q.start,
            end_date=current_q.end,
        )
        _seed_objectives(org, admin, cycle, CURRENT, people, teams)
        for state in (CycleState.PLANNING, CycleState.ACTIVE):
            services.cycle_transition(org=org, by=admin, cycle=cycle, to_state=state)
        _seed_reviews(org, people, cycle)


def _seed_objectives(org, admin, cycle, specs: list[Obj], people, teams) -> None:
    created = {}
    for spec in specs:
        objective = services.objective_create(
            org=org,
            by=admin,
            cycle=cycle,
            title=spec.title,
            level=spec.level,
            owner=people[spec.owner],
            team=teams.get(spec.team) if spec.team else None,
            type=spec.type,
            visibility=spec.visibility,
            status="published",
            mission_link=spec.mission_link,
            why_it_matters=spec.why,
            aligned_to=[created[key] for key in spec.aligned_to],
        )
        created[spec.key] = objective
        for kr_spec in spec.krs:
            kr = services.key_result_create(
                org=org,
                by=admin,
                objective=objective,
                title=kr_spec.title,
                owner=people[kr_spec.owner],
                kind=kr_spec.kind,
                direction=kr_spec.direction,
                start_value=_d(kr_spec.start),
                target_value=_d(kr_spec.target),
                current_value=_d(kr_spec.current),
                lower_bound=_d(kr_spec.lower),
                upper_bound=_d(kr_spec.upper),
                unit=kr_spec.unit,
                currency=kr_spec.currency,
                weight=Decimal(kr_spec.weight),
                confidence=kr_spec.confidence,
            )
            for title, status, url in kr_spec.initiatives:
                services.initiative_save(
                    org=org,
                    by=admin,
                    key_result=kr,
                    title=title,
                    status=status,
                    backlog_url=url,
                    owner=people[kr_spec.owner],
                )


def _seed_reviews(org, people, cycle) -> None:
    from cycles.models import Objective

    master = people["erin"]
    by_title = {o.title: o for o in Objective.objects.for_org(org).in_cycle(cycle)}
    services.review_submit(
        org=org,
        by=master,
        objective=by_title[CURRENT[2].title],
        decision="approved",
        comment="Clear outcomes, well aligned.",
    )
    services.review_submit(
        org=org,
        by=master,
        objective=by_title[CURRENT[-1].title],
        decision="changes_requested",
        comment="Align this to a team objective and add a second key result that shows "
        "what learning Rust changes for the Platform team.",
    )
