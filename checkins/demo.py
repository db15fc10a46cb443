"""Demo cadence for Acme: six weeks of check-ins, replies, comments, kudos and 1:1s.

Recorded through ``checkins.services`` at past moments (``now=``), so weeks, revisions and
KR values come out exactly as if people had used the product. Idempotent: an organisation
that has check-ins already is left alone.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from checkins import services
from checkins.models import CheckIn
from cycles.models import Cycle, CycleState, KeyResult
from okrapp.models import Membership, Organization

WEEKS = 6

NOTES = [
    "Steady week; the new FAQ pages are getting traffic.",
    "Slower than planned: two people were out sick.",
    "Good progress after the customer workshop on Tuesday.",
    "Blocked on the test rig until the new sensors arrive.",
    "Numbers up after the release; watching whether it holds.",
    "Flat this week, focused on the partner contract instead.",
    "Data pipeline fixed, so this figure is finally trustworthy.",
    "Ahead of plan, thanks to Frank's help with the tooling.",
]
HELP_NOTES = [
    "Need a decision on the supplier before we can go on.",
    "Waiting on legal for three weeks now; could someone escalate?",
]


def _thursday(monday, org: Organization) -> datetime:
    """10:00 on the Thursday of that week, in the organisation's time zone."""
    return datetime.combine(monday + timedelta(days=3), time(10, 0), tzinfo=org.zoneinfo)


def seed_cadence(org: Organization) -> None:
    cycle = Cycle.objects.for_org(org).filter(state=CycleState.ACTIVE).first()
    if cycle is None or CheckIn.objects.for_org(org).exists():
        return
    rng = random.Random(f"{org.slug}-cadence")  # noqa: S311 - a repeatable demo, not a secret
    people = {
        m.user.email.split("@")[0]: m
        for m in Membership.objects.for_org(org).select_related("user")
    }
    this_week = services.current_week(org)
    weeks = [this_week - timedelta(weeks=n) for n in range(WEEKS, 0, -1)]
    weeks = [w for w in weeks if w + timedelta(days=6) >= cycle.start_date]
    krs = list(
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .select_related("owner", "objective")
        .order_by("pk")
    )
    help_given = 0
    latest = {}
    for kr in krs:
        final = kr.current_value
        if final is None:
            continue
        start = kr.start_value if kr.start_value is not None and not kr.is_stay else final
        confidence = kr.confidence
        for i, week in enumerate(weeks):
            share = Decimal(i + 1) / Decimal(len(weeks))
            if kr.is_milestone:
                value = final if i == len(weeks) - 1 else Decimal(0)
            elif kr.is_stay:
                wiggle = (final.copy_abs() or Decimal(1)) * Decimal(rng.randint(-3, 3)) / 100
                value = final + (wiggle if i < len(weeks) - 1 else 0)
            else:
                noise = (final - start) * Decimal(rng.randint(-8, 8)) / 100
                value = start + (final - start) * share + (noise if i < len(weeks) - 1 else 0)
            value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            confidence = max(1, min(10, confidence + rng.choice((-1, 0, 0, 1))))
            need_help = help_given < 2 and i == len(weeks) - 1 and confidence <= 5
            note = HELP_NOTES[help_given] if need_help else rng.choice(NOTES)
            help_given += need_help
            latest[kr.pk] = services.checkin_record(
                org=org,
                by=kr.owner,
                key_result=kr,
                value=value,
                confidence=confidence,
                note=note,
                need_help=need_help,
                now=_thursday(week, org),
            )
    _seed_conversation(org, people, krs, latest, weeks)


def _seed_conversation(org, people, krs, latest, weeks) -> None:
    by_owner = {}
    for kr in krs:
        if kr.pk in latest:
            by_owner.setdefault(kr.owner_id, []).append(latest[kr.pk])
    carol, bob, dana, judy = people["carol"], people["bob"], people["dana"], people["judy"]
    for checkin in by_owner.get(carol.pk, [])[:1]:
        services.checkin_acknowledge(
            org=org,
            by=bob,
            checkin=checkin,
            reply="Thanks, let's look at the help requests on Friday.",
        )
    for checkin in by_owner.get(judy.pk, [])[:1]:
        services.checkin_acknowledge(org=org, by=dana, checkin=checkin, reply="Great momentum!")
    first_kr = next((kr for kr in krs if kr.owner_id == carol.pk), None)
    if first_kr is not None:
        services.comment_create(
            org=org,
            by=carol,
            key_result=first_kr,
            body="@grace could the robot show the calibration video itself?",
        )
        services.comment_create(
            org=org,
            by=people["grace"],
            key_result=first_kr,
            body="Good idea, I'll add it to the wizard backlog.",
        )
    services.kudos_give(
        org=org,
        by=bob,
        receiver=people["frank"],
        message="Staged rollouts landed without a single failed update. Thank you!",
    )
    services.kudos_give(
        org=org,
        by=dana,
        receiver=judy,
        message="Six partner webinars booked in two weeks: amazing hustle.",
    )
    services.kudos_give(
        org=org,
        by=people["erin"],
        receiver=carol,
        message="Your calibration KRs are a model of clear outcomes.",
        key_result=first_kr,
    )
    for manager, report, rhythm in ((bob, carol, "weekly"), (dana, judy, "monthly")):
        pair = services.one_on_one_get_or_create(
            org=org, by=manager, manager=manager, report=report, rhythm=rhythm
        )
        for week in weeks[1::3]:
            meeting = services.meeting_create(
                org=org, by=manager, pair=pair, on=week + timedelta(days=4)
            )
            services.meeting_update_notes(
                org=org,
                by=manager,
                meeting=meeting,
                shared_notes="Walked through the check-ins; agreed on next week's focus.",
                private_notes="Energy good; keep an eye on workload.",
            )
            item = services.action_item_add(
                org=org,
                by=manager,
                meeting=meeting,
                text="Share the customer interview notes",
                owner=report,
            )
            if week != weeks[-1]:
                services.action_item_set_done(org=org, by=report, item=item, done=True)
