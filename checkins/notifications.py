"""Sending claimed notifications: what each mail says, and the claimed → sent protocol.

A worker moves each claim claimed → sending with a conditional UPDATE (only one worker can
win it), sends, then marks it sent. If the mail server refuses, the claim goes back to
"claimed" for a retry, until its ``reminders.MAX_ATTEMPTS``-th attempt: then it is
"failed" and shown to admins (``reminders.failed_claims``), as is a claim whose week ended
before it went (``reminders.give_up_ended_weeks``). If the worker dies in between, the
claim stays "sending": nobody knows whether the mail went, so it is never sent again on a
guess. Each mail carries the claim's ``Message-ID`` (``NotificationClaim.message_id``, the
same on every attempt); the tick asks the mail backend about claims stuck past their lease
(``reminders.recover_stuck``): delivered → sent, provably not delivered → claimed again,
backend cannot tell (SMTP, chat) → reported to admins (``reminders.stuck_claims``).

One-off mails (a mention, "the report is ready") are claimed the same way, in a
``MailClaim`` row per mail (:func:`send_once`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from checkins import integrations
from checkins.models import (
    Channel,
    CheckIn,
    ClaimStatus,
    MailClaim,
    NotificationClaim,
    NotificationKind,
)
from checkins.reminders import (
    MAX_ATTEMPTS,
    _open_krs,
    _pilot_filter,
    away_until,
    scoring_owners,
)
from cycles.models import Cycle, CycleState, KeyResult, KeyResultScore, ObjectiveStatus
from okrapp.mail import send_templated_mail
from okrapp.models import Membership, Organization, TeamMembership

log = logging.getLogger(__name__)


def absolute(path: str) -> str:
    return settings.SITE_URL + path


@dataclass
class Mail:
    template: str
    context: dict = field(default_factory=dict)


def _links(org: Organization) -> dict:
    return {
        "my_week_url": absolute(reverse("my_week", kwargs={"org_slug": org.slug})),
        "preferences_url": absolute(
            reverse("notification_settings", kwargs={"org_slug": org.slug})
        ),
    }


# --- What each kind says (built for a whole batch at once) ------------------------------------


def _checkin_reminders(org, claims) -> dict[int, Mail | None]:
    cycle = Cycle.objects.for_org(org).filter(state=CycleState.ACTIVE).first()
    if cycle is None:
        return {c.pk: None for c in claims}
    week = claims[0].week
    people = {c.membership_id for c in claims}
    open_krs = defaultdict(list)
    for kr in (
        _open_krs(org, cycle, week)
        .filter(owner_id__in=people)
        .select_related("objective")
        .order_by("objective__title", "position")
    ):
        open_krs[kr.owner_id].append(kr)
    return {
        c.pk: Mail(
            "checkins/mail/checkin_reminder",
            {"key_results": open_krs[c.membership_id], "cycle": cycle},
        )
        if open_krs[c.membership_id]
        else None
        for c in claims
    }


def _manager_digests(org, claims) -> dict[int, Mail | None]:
    """Each manager's reports with key results still without a check-in, and their
    need-help flags. People away on the day the digest fell due are listed as away, not
    missing; in pilot mode only people on the pilot teams are expected to check in."""
    cycle = Cycle.objects.for_org(org).filter(state=CycleState.ACTIVE).first()
    if cycle is None:
        return {c.pk: None for c in claims}
    week = claims[0].week
    managers = {c.membership_id for c in claims}
    reports = list(
        _pilot_filter(
            org, cycle, Membership.objects.for_org(org).active().filter(manager_id__in=managers)
        ).with_user()
    )
    report_ids = {r.pk for r in reports}
    due_at = max(c.claimed_at for c in claims)
    away = away_until(org, [(r.pk, r.time_zone) for r in reports], due_at)
    queue = absolute(reverse("ack_queue", kwargs={"org_slug": org.slug}))
    missing = defaultdict(list)
    for kr in _open_krs(org, cycle, week).filter(owner_id__in=report_ids):
        missing[kr.owner_id].append(kr)
    need_help = defaultdict(list)
    for checkin in (
        CheckIn.objects.for_org(org)
        .filter(owner_id__in=report_ids, week=week, need_help=True)
        .select_related("key_result")
    ):
        need_help[checkin.owner_id].append(checkin)
    mails = {}
    for c in claims:
        rows = []
        for r in reports:
            if r.manager_id != c.membership_id or not (missing[r.pk] or need_help[r.pk]):
                continue
            rows.append(
                {
                    "person": r,
                    "missing": [] if r.pk in away else missing[r.pk],
                    "away_until": away.get(r.pk) if missing[r.pk] else None,
                    "need_help": need_help[r.pk],
                }
            )
        to_act_on = any(row["missing"] or row["need_help"] for row in rows)
        mails[c.pk] = (
            Mail(
                "checkins/mail/manager_digest", {"rows": rows, "cycle": cycle, "action_url": queue}
            )
            if to_act_on
            else None
        )
    return mails


def team_cadence(org: Organization, cycle: Cycle, weeks: list) -> list[dict]:
    """Check-in rate per team for ``weeks`` (KRs checked in / KRs owned by team members)."""
    members = defaultdict(set)
    names = {}
    for team_id, team_name, membership_id in TeamMembership.objects.for_org(org).values_list(
        "team_id", "team__name", "membership_id"
    ):
        members[team_id].add(membership_id)
        names[team_id] = team_name
    owned = defaultdict(int)
    for owner_id in (
        KeyResult.objects.for_org(org).in_cycle(cycle).values_list("owner_id", flat=True)
    ):
        owned[owner_id] += 1
    checked = defaultdict(lambda: defaultdict(int))
    for owner_id, week in (
        CheckIn.objects.for_org(org)
        .filter(key_result__objective__cycle=cycle, week__in=weeks)
        .values_list("owner_id", "week")
    ):
        checked[week][owner_id] += 1
    rows = []
    for team_id, people in sorted(members.items(), key=lambda kv: names[kv[0]]):
        total = sum(owned[p] for p in people)
        if not total:
            continue
        rates = [sum(checked[w][p] for p in people) / total for w in weeks]
        missed = sum(1 for p in people if owned[p] and not checked[weeks[-1]][p])
        rows.append(
            {
                "team": names[team_id],
                "rate": rates[-1],
                "previous": rates[-2] if len(rates) > 1 else None,
                "missed": missed,
            }
        )
    return rows


def _master_summaries(org, claims) -> dict[int, Mail | None]:
    cycle = Cycle.objects.for_org(org).filter(state=CycleState.ACTIVE).first()
    if cycle is None:
        return {c.pk: None for c in claims}
    week = claims[0].week
    rows = team_cadence(org, cycle, [week - timedelta(weeks=1), week])
    mail = Mail(
        "checkins/mail/master_summary",
        {
            "rows": rows,
            "cycle": cycle,
            "action_url": absolute(
                reverse("cycle_detail", kwargs={"org_slug": org.slug, "cycle_id": cycle.pk})
            ),
        },
    )
    return {c.pk: mail for c in claims}


def _scoring(org, claims, template) -> dict[int, Mail | None]:
    cycle = Cycle.objects.for_org(org).filter(state=CycleState.SCORING).first()
    if cycle is None:
        return {c.pk: None for c in claims}
    people = {c.membership_id for c in claims}
    scored = set(
        KeyResultScore.objects.for_org(org).in_cycle(cycle).values_list("key_result_id", flat=True)
    )
    open_krs = defaultdict(list)
    for kr in (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .filter(owner_id__in=people)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
    ):
        if kr.pk not in scored:
            open_krs[kr.owner_id].append(kr)
    url = absolute(reverse("my_scoring", kwargs={"org_slug": org.slug, "cycle_id": cycle.pk}))
    return {
        c.pk: Mail(
            template, {"key_results": open_krs[c.membership_id], "cycle": cycle, "scoring_url": url}
        )
        if open_krs[c.membership_id]
        else None
        for c in claims
    }


BUILDERS = {
    NotificationKind.CHECKIN_REMINDER: _checkin_reminders,
    NotificationKind.MANAGER_DIGEST: _manager_digests,
    NotificationKind.MASTER_SUMMARY: _master_summaries,
    NotificationKind.SCORING_REQUEST: lambda org, cl: _scoring(
        org, cl, "checkins/mail/scoring_request"
    ),
    NotificationKind.SCORING_REMINDER: lambda org, cl: _scoring(
        org, cl, "checkins/mail/scoring_reminder"
    ),
}


# --- Sending ----------------------------------------------------------------------------------


class SendFailed(Exception):
    """Some mails were refused by the mail server; their claims wait for a retry."""


def send_claims(org: Organization, claim_ids: list[int]) -> dict[str, int]:
    """Send what these claims stand for. Safe to call twice with the same ids."""
    claims = list(
        NotificationClaim.objects.for_org(org)
        .filter(pk__in=claim_ids, status=ClaimStatus.CLAIMED)
        .select_related("membership__user")
    )
    counts = {"sent": 0, "skipped": 0, "failed": 0, "given_up": 0, "taken": 0}
    by_kind = defaultdict(list)
    for c in claims:
        by_kind[(c.kind, c.week)].append(c)
    links = _links(org)
    for (kind, _week), group in by_kind.items():
        mails = BUILDERS[kind](org, group)
        for c in group:
            _send_one(org, c, mails.get(c.pk), links, counts)
    if counts["failed"]:
        raise SendFailed(f"{counts['failed']} mail(s) refused; they will be retried")
    return counts


def _send_one(org, claim: NotificationClaim, mail: Mail | None, links, counts) -> None:
    won = (
        NotificationClaim.objects.for_org(org)
        .filter(pk=claim.pk, status=ClaimStatus.CLAIMED)
        .update(status=ClaimStatus.SENDING, sending_at=timezone.now(), attempts=F("attempts") + 1)
    )
    if not won:  # another worker has it
        counts["taken"] += 1
        return
    if mail is None:  # no longer due (checked in, scored, nothing to report)
        NotificationClaim.objects.for_org(org).filter(pk=claim.pk).update(
            status=ClaimStatus.SKIPPED
        )
        counts["skipped"] += 1
        return
    person = claim.membership
    try:
        if claim.channel == Channel.EMAIL:
            send_templated_mail(
                to=[person.user.email],
                template=mail.template,
                language=person.language,
                context={"org": org, "person": person, "week": claim.week, **links, **mail.context},
                message_id=claim.message_id,
            )
        else:
            integrations.deliver(org, claim, mail, links)
    except integrations.ChatUndeliverable as exc:  # retrying cannot help
        log.warning("notification %s to %s not deliverable: %s", claim.pk, person.pk, exc)
        NotificationClaim.objects.for_org(org).filter(pk=claim.pk).update(
            status=ClaimStatus.SKIPPED, error=str(exc)[:300]
        )
        counts["skipped"] += 1
        return
    except Exception as exc:  # refused or timed out: nothing went out, so it can be retried
        log.warning("notification %s to %s refused: %s", claim.pk, person.user.email, exc)
        # Up to MAX_ATTEMPTS; after that the lost-claim sweep would send it again forever.
        give_up = claim.attempts + 1 >= MAX_ATTEMPTS  # this attempt's increment included
        NotificationClaim.objects.for_org(org).filter(pk=claim.pk).update(
            status=ClaimStatus.FAILED if give_up else ClaimStatus.CLAIMED,
            error=(str(exc) or type(exc).__name__)[:300],
        )
        counts["given_up" if give_up else "failed"] += 1
        return
    NotificationClaim.objects.for_org(org).filter(pk=claim.pk).update(
        status=ClaimStatus.SENT, sent_at=timezone.now(), error=""
    )
    counts["sent"] += 1


def send_once(*, org_id: int, key: str, **mail) -> bool:
    """Send a one-off mail (``send_templated_mail``'s arguments) at most once per ``key``,
    however often its task is delivered; False when it went (or is going) already.

    The row is inserted if missing, then taken claimed → sending by a conditional UPDATE,
    which one delivery wins. A refused mail goes back to "claimed" (the exception goes on
    to the task, which retries). A delivery dying mid-send leaves "sending": not sent again.
    """
    MailClaim.objects.bulk_create(
        [MailClaim(organization_id=org_id, key=key)], ignore_conflicts=True
    )
    rows = MailClaim.objects.for_org(org_id).filter(key=key)
    won = rows.filter(status=ClaimStatus.CLAIMED).update(
        status=ClaimStatus.SENDING, sending_at=timezone.now()
    )
    if not won:
        return False
    claim = rows.get()
    try:
        send_templated_mail(**mail, message_id=claim.message_id)
    except Exception:  # refused or timed out: nothing went out
        rows.filter(status=ClaimStatus.SENDING).update(status=ClaimStatus.CLAIMED)
        raise
    rows.update(status=ClaimStatus.SENT, sent_at=timezone.now())
    return True


def request_scores(org: Organization, cycle: Cycle, week) -> list[int]:
    """Claim one scoring request per owner of the cycle's KRs (pilot teams in pilot mode)."""
    from checkins.reminders import claim

    ids = scoring_owners(org, cycle, unscored_only=True).values_list("id", flat=True)
    return claim(org, ids, week, NotificationKind.SCORING_REQUEST)
