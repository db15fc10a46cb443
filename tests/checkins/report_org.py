"""A small quarter whose report is computed by hand in the tests (tests/checkins/test_report*).

Three weeks that ended a fortnight ago (``WEEKS``), a pilot cycle with Engineering as the pilot
team, two teams, five people, four objectives and seven key results:

| KR | objective (level, type, visibility)   | owner | team  | progress | score | reason      |
|----|---------------------------------------|-------|-------|----------|-------|-------------|
| K1 | Grow revenue (company, committed)     | alice | -     | 1.0      | 1.0   | achieved    |
| K2 | Grow revenue                          | dana  | -     | 0.5      | 0.5   | too ambit.  |
| K3 | Ship v2 (Engineering, committed)      | carol | Eng.  | 0.8      | 0.8   | blocked     |
| K4 | Ship v2                               | bob   | Eng.  | 1.2      | 1.0   | achieved    |
| K5 | Learn Rust (indiv., aspir., private)  | carol | Eng.  | 0.3      | 0.7   | - (text)    |
| K6 | Open Asia (Sales, aspirational)       | frank | Sales | 0.2      | -     | -           |
| K7 | Open Asia                             | dana  | Sales | 0.4      | 0.3   | priorities  |

K5's objective has no team: it counts for carol's team. Check-ins (weeks 1/2/3):
Engineering K3 ✓✓✓, K4 ✓✓✓, K5 ✓✓- ; Sales K6 ✓✓✓, K7 ✓-✓ ; company K1 ✓-- (plus one
check-in the week after the cycle, which does not count).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal as D
from types import SimpleNamespace

from checkins.models import CheckIn
from cycles import services as okr
from cycles.models import KeyResultScore, Level
from tests.factories import MembershipFactory, TeamFactory, TeamMembershipFactory, UserFactory

_FIRST = date.today() - timedelta(days=date.today().weekday(), weeks=5)
WEEKS = [_FIRST + timedelta(weeks=n) for n in range(3)]


def poppler(tool: str, *args: str) -> str | None:
    """Output of a poppler-utils tool (pdftotext, pdffonts), or None when not installed."""
    path = shutil.which(tool)
    if path is None:
        return None
    done = subprocess.run([path, *args], check=True, capture_output=True, text=True)  # noqa: S603
    return done.stdout


def _kr(org, by, objective, owner, title, current):
    return okr.key_result_create(
        org=org,
        by=by,
        objective=objective,
        owner=owner,
        title=title,
        start_value=D(0),
        target_value=D(10),
        current_value=D(current),
    )


def _score(org, kr, score, *, reason="", worked="", change=""):
    KeyResultScore.objects.create(
        organization=org,
        key_result=kr,
        score=D(score),
        suggested=D(score),
        reason=reason,
        what_worked=worked,
        what_to_change=change,
        scored_by=kr.owner,
    )


def _check_in(org, kr, *weeks):
    for week in weeks:
        CheckIn.objects.create(
            organization=org,
            key_result=kr,
            week=week,
            value=D(1),
            confidence=7,
            recorded_by=kr.owner,
            owner=kr.owner,
        )


def build_quarter(acme, alice, bob, carol, engineering, *, state="scoring") -> SimpleNamespace:
    """``engineering`` is the conftest team (bob leads, carol is on it)."""
    dana = MembershipFactory(
        organization=acme,
        user=UserFactory(email="dana@acme.example", full_name="Dana Wu"),
        role="manager",
        manager=alice,
    )
    frank = MembershipFactory(
        organization=acme,
        user=UserFactory(email="frank@acme.example", full_name="Frank Lee"),
        manager=dana,
    )
    sales = TeamFactory(organization=acme, name="Sales", slug="sales")
    TeamMembershipFactory(organization=acme, team=sales, membership=dana, is_lead=True)
    TeamMembershipFactory(organization=acme, team=sales, membership=frank)

    cycle = okr.cycle_create(
        org=acme,
        by=alice,
        name="2026 Q4",
        start_date=WEEKS[0],
        end_date=WEEKS[-1] + timedelta(days=6),
        is_pilot=True,
        pilot_teams=[engineering],
    )
    for step in ("planning", "active"):
        cycle = okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=step)

    revenue = okr.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        level=Level.COMPANY,
        owner=alice,
        title="Grow revenue",
        mission_link="Help small workshops",
    )
    ship = okr.objective_create(
        org=acme,
        by=bob,
        cycle=cycle,
        level=Level.TEAM,
        team=engineering,
        owner=bob,
        title="Ship v2",
    )
    learn = okr.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        level=Level.INDIVIDUAL,
        owner=carol,
        title="Learn Rust",
        type="aspirational",
        visibility="private",
    )
    asia = okr.objective_create(
        org=acme,
        by=dana,
        cycle=cycle,
        level=Level.TEAM,
        team=sales,
        owner=dana,
        title="Open Asia",
        type="aspirational",
    )
    k1 = _kr(acme, alice, revenue, alice, "Revenue from 0 to 10 M", 10)
    k2 = _kr(acme, alice, revenue, dana, "Partners from 0 to 10", 5)
    k3 = _kr(acme, bob, ship, carol, "Modules from 0 to 10", 8)
    k4 = _kr(acme, bob, ship, bob, "Releases from 0 to 10", 12)
    k5 = _kr(acme, carol, learn, carol, "Katas from 0 to 10", 3)
    k6 = _kr(acme, dana, asia, frank, "Leads from 0 to 10", 2)
    k7 = _kr(acme, dana, asia, dana, "Distributors from 0 to 10", 4)

    _score(acme, k1, "1.0", reason="achieved", worked="Clear owner")
    _score(acme, k2, "0.5", reason="too_ambitious", change="Smaller target")
    _score(acme, k3, "0.8", reason="blocked", change="Unblock earlier")
    _score(acme, k4, "1.0", reason="achieved")
    _score(acme, k5, "0.7", worked="Pairing")
    _score(acme, k7, "0.3", reason="priorities_changed", change="Say no sooner")

    w1, w2, w3 = WEEKS
    _check_in(acme, k3, w1, w2, w3)
    _check_in(acme, k4, w1, w2, w3)
    _check_in(acme, k5, w1, w2)
    _check_in(acme, k6, w1, w2, w3)
    _check_in(acme, k7, w1, w3)
    _check_in(acme, k1, w1, w3 + timedelta(weeks=1))

    if state in ("scoring", "closed"):
        cycle = okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    return SimpleNamespace(
        cycle=cycle,
        dana=dana,
        frank=frank,
        sales=sales,
        engineering=engineering,
        objectives=SimpleNamespace(revenue=revenue, ship=ship, learn=learn, asia=asia),
        krs=SimpleNamespace(k1=k1, k2=k2, k3=k3, k4=k4, k5=k5, k6=k6, k7=k7),
    )
