"""Writes to cycles, objectives, key results, initiatives and reviews.

The HTML views and the API call the same functions. Each one names its organisation and
the membership acting, checks the role table (``cycles.permissions``), runs in one
transaction and raises ``ValidationError`` with a message a person can act on, or
``PermissionDenied``. Changes to objectives and key results are saved through the model
(never ``QuerySet.update``) so that django-simple-history records who changed what.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from cycles import permissions, rollup, scoring
from cycles.models import (
    Alignment,
    Cycle,
    CyclePilotTeam,
    CycleState,
    CycleTransition,
    Initiative,
    KeyResult,
    KeyResultScore,
    Level,
    Objective,
    ObjectiveStatus,
    ReasonCode,
    Review,
    ReviewDecision,
    ReviewStatus,
)
from cycles.quarters import fiscal_quarters
from okrapp import cache as page_cache
from okrapp import rows
from okrapp.models import Membership, Organization, Team
from okrapp.tenancy import require_same_org

# Sent after a cycle changes state, inside the transaction (receivers enqueue with
# ``delay_on_commit``). ``checkins`` listens: cycles never imports it.
cycle_state_changed = Signal()  # kwargs: org, cycle, from_state, to_state, by


class ConflictError(ValidationError):
    """A save lost the race: someone changed the row since the form was opened."""

    def __init__(self, message: str, current):
        super().__init__(message, code="conflict")
        self.current = current


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("You do not have permission to do this."))


def _require_not_frozen(cycle: Cycle) -> None:
    """Refuse a write into a closed cycle, as ``cycle`` says (see :func:`_hold_open`)."""
    if cycle.is_frozen:
        raise ValidationError(
            _("%(cycle)s is closed; its values are frozen and can no longer change.")
            % {"cycle": cycle.name},
            code="frozen",
        )


def hold_cycle_state(org: Organization, cycle: Cycle) -> Cycle:
    """Read the cycle's state as it is now and keep it so until this transaction ends.

    A write that needs the cycle in some state (a check-in: active; a key result edit: not
    closed) reads the cycle through a join, which neither sees a move committed while the
    write waited for its row locks nor stops one committing before the write does. A KEY
    SHARE lock on the cycle does both: a move (``cycle_transition`` locks the cycle FOR
    UPDATE) waits for the writes in flight, and a write arriving during a move waits for it
    and reads its outcome (a locking read returns the newest row). Writes do not wait for
    one another: key-share locks do not conflict. Take it after the write's own row locks;
    whoever locks the cycle FOR UPDATE locks no key result or objective after it. SQLite
    gives a writer the whole database: nothing to do there.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT state FROM cycles_cycle WHERE organization_id = %s AND id = %s "
                "FOR KEY SHARE",
                [org.pk, cycle.pk],
            )
            row = cursor.fetchone()
        if row is not None:
            cycle.state = row[0]
    return cycle


def _hold_open(org: Organization, cycle: Cycle) -> None:
    """Refuse a write into a closed cycle, and keep the cycle from closing until the write
    commits (:func:`hold_cycle_state`): a write that waited for a close sees it."""
    _require_not_frozen(hold_cycle_state(org, cycle))


# --- Cycles -------------------------------------------------------------------------------------


def _validate_cycle_fields(org, cycle: Cycle) -> None:
    errors = {}
    if not cycle.name.strip():
        errors["name"] = _("A cycle needs a name.")
    elif Cycle.objects.for_org(org).exclude(pk=cycle.pk).filter(name=cycle.name.strip()).exists():
        errors["name"] = _("There is a cycle called “%(name)s” already.") % {"name": cycle.name}
    if cycle.start_date and cycle.end_date and cycle.end_date < cycle.start_date:
        errors["end_date"] = _("The cycle must end after it starts.")
    if cycle.scoring_deadline and cycle.end_date and cycle.scoring_deadline < cycle.end_date:
        errors["scoring_deadline"] = _("The scoring deadline comes after the cycle ends.")
    if errors:
        raise ValidationError(errors)


def _set_pilot_teams(org, cycle: Cycle, teams: Iterable[Team]) -> None:
    teams = list(teams)
    require_same_org(org, *teams)
    if cycle.is_pilot and not teams:
        raise ValidationError({"pilot_teams": _("A pilot cycle needs at least one pilot team.")})
    CyclePilotTeam.objects.for_org(org).filter(cycle=cycle).delete()
    if cycle.is_pilot:
        CyclePilotTeam.objects.bulk_create(
            [CyclePilotTeam(organization=org, cycle=cycle, team=t) for t in teams]
        )


@transaction.atomic
def cycle_create(
    *,
    org: Organization,
    by: Membership,
    name: str,
    start_date: date,
    end_date: date,
    is_pilot: bool = False,
    pilot_teams: Iterable[Team] = (),
    scoring_deadline: date | None = None,
) -> Cycle:
    page_cache.bump(org)  # the company view and the tree show this
    _require(permissions.can_manage_cycles(by))
    cycle = Cycle(
        organization=org,
        name=name.strip(),
        start_date=start_date,
        end_date=end_date,
        is_pilot=is_pilot,
        scoring_deadline=scoring_deadline,
    )
    _validate_cycle_fields(org, cycle)
    cycle.save()
    _set_pilot_teams(org, cycle, pilot_teams)
    return cycle


@transaction.atomic
def cycle_generate_quarters(*, org: Organization, by: Membership, fiscal_year: int) -> list[Cycle]:
    """Draft cycles for Q1 to Q4 of a fiscal year; quarters that exist already are skipped.

    A quarter exists when a cycle has its dates: its name is in the language of whoever
    generated it, so the same quarter asked for in another language has another name.
    """
    page_cache.bump(org)  # the company view and the tree show this
    _require(permissions.can_manage_cycles(by))
    if not 2000 <= fiscal_year <= 2100:
        raise ValidationError({"fiscal_year": _("Choose a year between 2000 and 2100.")})
    cycles = list(Cycle.objects.for_org(org).values_list("name", "start_date", "end_date"))
    existing = {(start, end) for _name, start, end in cycles}
    names = {name for name, _start, _end in cycles}
    missing = [
        quarter
        for quarter in fiscal_quarters(fiscal_year, org.fiscal_year_start_month)
        if (quarter.start, quarter.end) not in existing
    ]
    taken = [quarter.name for quarter in missing if quarter.name in names]
    if taken:
        raise ValidationError(
            {
                "fiscal_year": _(
                    "A cycle called “%(name)s” already exists with other dates. Rename it, "
                    "then generate the quarters again."
                )
                % {"name": taken[0]}
            }
        )
    created = []
    for quarter in missing:
        created.append(
            Cycle.objects.create(
                organization=org, name=quarter.name, start_date=quarter.start, end_date=quarter.end
            )
        )
    return created


@transaction.atomic
def cycle_update(
    *,
    org: Organization,
    by: Membership,
    cycle: Cycle,
    name: str,
    start_date: date,
    end_date: date,
    is_pilot: bool,
    pilot_teams: Iterable[Team] = (),
    scoring_deadline: date | None = None,
) -> Cycle:
    page_cache.bump(org)  # the company view and the tree show this
    _require(permissions.can_manage_cycles(by))
    cycle = Cycle.objects.for_org(org).select_for_update().get(pk=cycle.pk)
    _require_not_frozen(cycle)
    cycle.name, cycle.start_date, cycle.end_date = name.strip(), start_date, end_date
    cycle.is_pilot, cycle.scoring_deadline = is_pilot, scoring_deadline
    _validate_cycle_fields(org, cycle)
    cycle.save()
    _set_pilot_teams(org, cycle, pilot_teams)
    return cycle


@transaction.atomic
def cycle_transition(*, org: Organization, by: Membership, cycle: Cycle, to_state: str) -> Cycle:
    """Move a cycle to its next state, recorded with who and when."""
    page_cache.bump(org)  # the company view and the tree show this
    _require(permissions.can_manage_cycles(by))
    cycle = Cycle.objects.for_org(org).select_for_update().get(pk=cycle.pk)
    from_state = cycle.state
    if to_state not in cycle.next_states:
        raise ValidationError(
            _("A cycle in %(from)s cannot move to %(to)s.")
            % {"from": CycleState(from_state).label, "to": _state_label(to_state)},
            code="invalid_transition",
        )
    if to_state == CycleState.ACTIVE:
        if not org.has_mission_and_vision:
            raise ValidationError(
                _(
                    "State the organisation's mission and vision before activating a cycle: "
                    "every objective traces up to them."
                ),
                code="mission_missing",
                params={"url": reverse("org_mission", kwargs={"org_slug": org.slug})},
            )
        other = Cycle.objects.for_org(org).active().exclude(pk=cycle.pk).first()
        if other is not None:
            raise ValidationError(
                _("%(other)s is active. Move it to scoring before activating %(cycle)s.")
                % {"other": other.name, "cycle": cycle.name},
                code="another_active",
            )
    return _move(org, cycle, to_state, by=by)


@transaction.atomic
def cycle_close_at_deadline(
    *, org: Organization, cycle: Cycle, now: datetime | None = None
) -> Cycle | None:
    """Close scoring of ``cycle`` once its scoring deadline day has ended on the
    organisation's clock (``now``: this moment), as closing by an admin does: the move is
    recorded (by nobody, "at the scoring deadline") and the same signal has the report
    built. None when there is nothing to do: not yet, no deadline, closed already (an admin,
    or a tick that ran first), or reopened for check-ins.

    The cycle is locked FOR UPDATE as ``cycle_transition`` locks it, so a tick waits for a
    move in flight (and for writes holding the cycle open, :func:`hold_cycle_state`); the
    locking read re-checks its conditions on the newest row, so a second tick that waited
    finds the cycle closed and does nothing.
    """
    cycle = (
        Cycle.objects.for_org(org)
        .past_scoring_deadline(org, now or timezone.now())
        .select_for_update()
        .filter(pk=cycle.pk)
        .first()
    )
    if cycle is None:
        return None
    page_cache.bump(org)  # the company view and the tree show this
    return _move(org, cycle, CycleState.CLOSED, by=None, by_deadline=True)


def _move(
    org: Organization,
    cycle: Cycle,
    to_state: str,
    *,
    by: Membership | None,
    by_deadline: bool = False,
) -> Cycle:
    """Save the locked ``cycle`` in ``to_state``, record the move and announce it."""
    from_state = cycle.state
    cycle.state = to_state
    try:
        with transaction.atomic():
            cycle.save(update_fields=["state"])
    except IntegrityError as exc:  # two admins activating two cycles at once
        raise ValidationError(
            _("Another cycle was activated a moment ago; reload the page."), code="another_active"
        ) from exc
    CycleTransition.objects.create(
        organization=org,
        cycle=cycle,
        from_state=from_state,
        to_state=to_state,
        by=by,
        by_deadline=by_deadline,
    )
    cycle_state_changed.send(
        sender=Cycle, org=org, cycle=cycle, from_state=from_state, to_state=to_state, by=by
    )
    return cycle


def _state_label(state: str) -> str:
    try:
        return CycleState(state).label
    except ValueError:
        return state


@transaction.atomic
def cycle_carry_over(
    *, org: Organization, by: Membership, from_cycle: Cycle, to_cycle: Cycle
) -> list[KeyResult]:
    """Copy the unfinished key results of ``from_cycle`` (with their objectives) forward.

    Each copy links to where it came from; running it twice copies nothing twice.
    """
    page_cache.bump(org)  # the company view and the tree show this
    _require(permissions.can_manage_cycles(by))
    require_same_org(org, from_cycle, to_cycle)
    if from_cycle.pk == to_cycle.pk:
        raise ValidationError(_("Choose a different cycle to carry over from."))
    if to_cycle.state not in (CycleState.DRAFT, CycleState.PLANNING):
        raise ValidationError(_("Carry over into a cycle that is still in draft or planning."))
    already = set(
        KeyResult.objects.for_org(org)
        .in_cycle(to_cycle)
        .filter(carried_from__isnull=False)
        .values_list("carried_from_id", flat=True)
    )
    unfinished = [
        kr
        for kr in KeyResult.objects.for_org(org)
        .in_cycle(from_cycle)
        .select_related("objective")
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        if not kr.is_done and kr.pk not in already
    ]
    copies_of = {
        o.carried_from_id: o
        for o in Objective.objects.for_org(org)
        .in_cycle(to_cycle)
        .filter(carried_from__isnull=False)
    }
    created = []
    for kr in unfinished:
        source = kr.objective
        objective = copies_of.get(source.pk)
        if objective is None:
            objective = Objective(
                organization=org,
                cycle=to_cycle,
                title=source.title,
                description=source.description,
                why_it_matters=source.why_it_matters,
                mission_link=source.mission_link,
                level=source.level,
                team_id=source.team_id,
                owner_id=source.owner_id,
                type=source.type,
                visibility=source.visibility,
                status=ObjectiveStatus.DRAFT,
                carried_from=source,
            )
            objective._history_user = by.user
            objective.save()
            copies_of[source.pk] = objective
        copy = KeyResult(
            organization=org,
            objective=objective,
            title=kr.title,
            owner_id=kr.owner_id,
            kind=kr.kind,
            currency=kr.currency,
            direction=kr.direction,
            # The new cycle starts where the old one ended.
            start_value=kr.current_value
            if kr.current_value is not None
            and not kr.is_stay
            and not kr.is_milestone
            and kr.current_value != kr.target_value
            else kr.start_value,
            target_value=kr.target_value,
            lower_bound=kr.lower_bound,
            upper_bound=kr.upper_bound,
            current_value=None,
            unit=kr.unit,
            weight=kr.weight,
            confidence=5,
            carried_from=kr,
            position=kr.position,
        )
        copy.progress = copy.compute_progress()
        copy._history_user = by.user
        copy.save()
        created.append(copy)
    for objective in {c.objective for c in created}:
        objective_recompute_progress(objective)
    return created


# --- Objectives -----------------------------------------------------------------------------


def _keep_readable(by: Membership, objective: Objective) -> None:
    """Refuse to save a private objective its author could no longer read (a person's
    direct manager writing for them, with no team they manage): it would vanish for them."""
    if objective.is_private and not permissions.can_read_objective(by, objective):
        raise ValidationError(
            {
                "visibility": _(
                    "Only the owner, the managers of its team and admins can read a private "
                    "objective, and you would not be one of them. Keep it public, or give it "
                    "a team you manage."
                )
            }
        )


def _validate_objective(org: Organization, objective: Objective) -> None:
    errors = {}
    if not objective.title.strip():
        errors["title"] = _("An objective needs a title.")
    if objective.level == Level.TEAM and objective.team_id is None:
        errors["team"] = _("A team objective needs its team.")
    if objective.level == Level.COMPANY and not objective.mission_link.strip():
        errors["mission_link"] = _("Say which part of the mission this company objective serves.")
    if objective.owner_id is not None and not objective.owner.active:
        errors["owner"] = _("%(name)s no longer has access; choose an active owner.") % {
            "name": objective.owner.display_name
        }
    if errors:
        raise ValidationError(errors)


OBJECTIVE_FIELDS = (
    "title", "description", "why_it_matters", "mission_link", "level", "team", "owner", "type",
    "visibility", "status",
)  # fmt: skip


@transaction.atomic
def objective_create(
    *,
    org: Organization,
    by: Membership,
    cycle: Cycle,
    title: str,
    level: int,
    owner: Membership,
    team: Team | None = None,
    type: str = "committed",
    visibility: str = "public",
    status: str = ObjectiveStatus.DRAFT,
    description: str = "",
    why_it_matters: str = "",
    mission_link: str = "",
    aligned_to: Iterable[Objective] = (),
) -> Objective:
    page_cache.bump(org)  # the company view and the tree show this
    require_same_org(org, cycle, owner, team)
    _hold_open(org, cycle)
    _require(
        permissions.can_create_objective(by, level=level, team_id=team and team.pk, owner=owner)
    )
    objective = Objective(
        organization=org,
        cycle=cycle,
        title=title.strip(),
        level=level,
        owner=owner,
        team=team,
        type=type,
        visibility=visibility,
        status=status,
        description=description.strip(),
        why_it_matters=why_it_matters.strip(),
        mission_link=mission_link.strip(),
    )
    _validate_objective(org, objective)
    _keep_readable(by, objective)
    objective.full_clean(exclude=["organization", "cycle", "owner", "team", "aligned_to"])
    objective._history_user = by.user
    objective.save()
    # A new objective has no progress and nothing aligned to it: its links move no figure.
    _set_alignment(org, objective, aligned_to)
    return objective


def _check_version(row, expected_version: int | None, message: str) -> None:
    if expected_version is not None and row.version != expected_version:
        raise ConflictError(message, current=row)


@transaction.atomic
def objective_update(
    *,
    org: Organization,
    by: Membership,
    objective: Objective,
    expected_version: int | None,
    aligned_to: Iterable[Objective] | None = None,
    **fields,
) -> Objective:
    """Edit an objective; ``expected_version`` refuses a save over someone else's change."""
    page_cache.bump(org)  # the company view and the tree show this
    unknown = set(fields) - set(OBJECTIVE_FIELDS)
    if unknown:
        raise ValueError(f"Not objective fields: {sorted(unknown)}")
    objective = (
        Objective.objects.for_org(org)
        .select_for_update(of=("self",))  # the cycle and the owner are only read
        .select_related("cycle", "owner")
        .get(pk=objective.pk)
    )
    _require(permissions.can_edit_objective(by, objective))
    _hold_open(org, objective.cycle)
    _check_version(
        objective,
        expected_version,
        _(
            "This objective was changed since you opened it. The newer values are shown; "
            "apply your edits again."
        ),
    )
    require_same_org(org, fields.get("owner"), fields.get("team"))
    placed = (objective.level, objective.team_id, objective.owner_id)
    counted = objective.aligned_contribution  # archiving or restoring changes it
    for name, value in fields.items():
        setattr(objective, name, value.strip() if isinstance(value, str) else value)
    if (objective.level, objective.team_id, objective.owner_id) != placed:
        # Moving an objective to another level, team or owner needs the right to create it
        # there. Sending the unchanged values (an edit form does) is no move.
        _require(
            permissions.can_create_objective(
                by, level=objective.level, team_id=objective.team_id, owner=objective.owner
            )
        )
    _validate_objective(org, objective)
    _keep_readable(by, objective)
    if (objective.level, objective.team_id) != placed[:2]:
        if aligned_to is not None:
            aligned_to = list(aligned_to)
        _check_links_after_move(
            org,
            by,
            objective,
            kept_parent_ids=None if aligned_to is None else {p.pk for p in aligned_to},
            field="level" if objective.level != placed[0] else "team",
        )
    objective.full_clean(exclude=["organization", "cycle", "owner", "team", "aligned_to"])
    objective.version += 1
    objective._history_user = by.user
    objective.save()
    removed, added = (
        _set_alignment(org, objective, aligned_to) if aligned_to is not None else (set(), set())
    )
    if removed or added:
        # Its branch left some objectives and joined others: count those afresh.
        objective_rollup_ancestors(org.pk, objective.pk, former_parent_ids=removed)
    elif objective.aligned_contribution != counted:
        now = objective.aligned_contribution
        objective_rollup_ancestors(
            org.pk, objective.pk, change=(now[0] - counted[0], now[1] - counted[1])
        )
    return objective


def _set_alignment(
    org: Organization, objective: Objective, parents: Iterable[Objective]
) -> tuple[set[int], set[int]]:
    """``objective`` contributes to ``parents``: higher level, same cycle, no loops.

    Returns the ids of the parents it stopped contributing to and of those it started to."""
    parents = list(parents)
    require_same_org(org, *parents)
    errors = []
    for parent in parents:
        if parent.pk == objective.pk:
            errors.append(_("An objective cannot contribute to itself."))
        elif parent.cycle_id != objective.cycle_id:
            errors.append(_("“%(title)s” is in another cycle.") % {"title": parent.title})
        elif not _is_above(org, parent, objective):
            if parent.level == objective.level == Level.TEAM:
                message = _("“%(title)s” belongs to a team that is not above this one.")
            else:
                message = _(
                    "“%(title)s” is not at a higher level; objectives align upward "
                    "(individual → team → company)."
                )
            errors.append(message % {"title": parent.title})
    if not errors:
        ancestors = _alignment_ancestor_ids(org, objective.cycle_id, [p.pk for p in parents])
        if objective.pk in ancestors:
            errors.append(_("That alignment would make a loop in the tree."))
    if errors:
        raise ValidationError({"aligned_to": errors})
    existing = set(
        Alignment.objects.for_org(org).filter(child=objective).values_list("parent_id", flat=True)
    )
    wanted = {p.pk for p in parents}
    removed, added = existing - wanted, wanted - existing
    # Recorded in the links' history as part of the objective's save just made: its editor,
    # its moment (the objective page shows them as one change).
    who, when = getattr(objective, "_history_user", None), None
    if removed or added:
        history = objective.history.filter(organization_id=org.pk)
        when = history.values_list("history_date", flat=True).first()
    if removed:
        for link in Alignment.objects.for_org(org).filter(child=objective, parent__in=removed):
            link._history_user, link._history_date = who, when or timezone.now()
            link.delete()
    if added:
        bulk_create_with_history(
            [Alignment(organization=org, child=objective, parent_id=pk) for pk in sorted(added)],
            Alignment,
            default_user=who,
            default_date=when,
        )
    return removed, added


def _check_links_after_move(
    org: Organization,
    by: Membership,
    objective: Objective,
    *,
    kept_parent_ids: set[int] | None,
    field: str,
) -> None:
    """``objective`` (unsaved) moves to another level or team: the links it keeps must still
    go upward, each parent above it and each contributor below it, or the move is refused
    on ``field`` (nothing is saved; the caller keeps what was typed).

    ``kept_parent_ids``: the parents sent with the move (``_set_alignment`` checks those
    the editor chose; checked here are those already linked, which may include private
    ones the editor cannot read); None when the links were not sent, so all are kept.
    Objectives the editor may not read are named "a private objective".
    """
    links = list(
        Alignment.objects.for_org(org)
        .filter(Q(child=objective) | Q(parent=objective))
        .select_related("child", "parent")
    )
    errors = []
    for link in links:
        if link.child_id == objective.pk:
            other, upper, lower = link.parent, link.parent, objective
            if kept_parent_ids is not None and other.pk not in kept_parent_ids:
                continue  # unlinked by this very edit
        else:
            other, upper, lower = link.child, objective, link.child
        if _is_above(org, upper, lower):
            continue
        title = (
            other.title if permissions.can_read_objective(by, other) else _("a private objective")
        )
        if other is upper:
            message = _(
                "This objective contributes to “%(title)s”, which would no longer be above "
                "it. Remove that link first, or keep the level and team."
            )
        else:
            message = _(
                "“%(title)s” contributes to this objective, which would no longer be above "
                "it. That link must be removed first, or keep the level and team."
            )
        errors.append(message % {"title": title})
    if errors:
        raise ValidationError({field: errors})


def _is_above(org: Organization, upper: Objective, lower: Objective) -> bool:
    """Whether ``lower`` may contribute to ``upper`` as their levels and teams stand: a
    higher level, or two team objectives, ``upper``'s team above ``lower``'s. The one rule
    for links chosen (``_set_alignment``) and links kept through a move."""
    if upper.level == lower.level == Level.TEAM:
        return _team_is_above(org, upper.team_id, lower.team_id)
    return upper.level < lower.level


def _team_is_above(org: Organization, upper_id: int | None, lower_id: int | None) -> bool:
    if upper_id is None or lower_id is None or upper_id == lower_id:
        return False
    parent_of = dict(Team.objects.for_org(org).values_list("id", "parent_id"))
    current, seen = parent_of.get(lower_id), set()
    while current is not None and current not in seen:
        if current == upper_id:
            return True
        seen.add(current)
        current = parent_of.get(current)
    return False


def _alignment_ancestor_ids(org: Organization, cycle_id: int, start: list[int]) -> set[int]:
    """Every objective reachable upward from ``start`` (one query for the cycle's links)."""
    ups: dict[int, list[int]] = {}
    for child, parent in (
        Alignment.objects.for_org(org)
        .filter(child__cycle_id=cycle_id)
        .values_list("child_id", "parent_id")
    ):
        ups.setdefault(child, []).append(parent)
    seen, stack = set(), list(start)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(ups.get(node, ()))
    return seen


@transaction.atomic
def objective_delete(*, org: Organization, by: Membership, objective: Objective) -> None:
    page_cache.bump(org)  # the company view and the tree show this
    objective = Objective.objects.for_org(org).select_related("cycle", "owner").get(pk=objective.pk)
    _require(permissions.can_edit_objective(by, objective))
    _hold_open(org, objective.cycle)
    if objective.cycle.state not in (CycleState.DRAFT, CycleState.PLANNING):
        raise ValidationError(
            _("Objectives of a running cycle are archived, not deleted, so their history stays.")
        )
    parent_ids = list(
        Alignment.objects.for_org(org).filter(child=objective).values_list("parent_id", flat=True)
    )
    objective_id = objective.pk
    objective.delete()
    if parent_ids:
        # Its links went with it: what it contributed to is counted afresh without it.
        objective_rollup_ancestors(org.pk, objective_id, former_parent_ids=parent_ids)


# Every check-in runs these two: written out, they cost PostgreSQL's time alone, where the
# ORM spent more building them (~1.2 ms of a check-in's ~17) than the database did running
# them. The organisation is in both, as the tenant querysets would put it.
_KEY_RESULT_PROGRESS_SQL = (
    "SELECT progress, weight FROM cycles_keyresult WHERE organization_id = %s AND objective_id = %s"
)


def _stored_decimal(value):
    """A decimal column as the driver returns it: PostgreSQL's is a Decimal already; SQLite
    gives a float (or an int), whose shortest repr is the value that was stored."""
    return Decimal(repr(value)) if isinstance(value, float) else value


def objective_recompute_progress(objective: Objective, *, locked: bool = False) -> Objective:
    """Store the weighted mean of the objective's KRs' capped progress, and move the
    aligned progress of everything it contributes to by the change
    (:func:`objective_rollup_ancestors`).

    It is written from every key result of the objective, so the objective's row lock is
    taken first: two writers on two of its key results (check-ins, edits, a new or deleted
    key result) then take turns, and the second reads the first's progress instead of
    writing the objective from its old value. ``locked``: the caller holds it already
    (it locked the objective with the key result) and read ``objective`` under it: the
    progress it holds is the one to move the roll-up from.
    """
    org_id = objective.organization_id
    if not locked:
        row = (
            Objective.objects.for_org(org_id)
            .select_for_update()
            .filter(pk=objective.pk)
            .values_list("progress", "status")
            .first()
        )
        if row is not None:
            objective.progress, objective.status = row
    before = objective.aligned_contribution
    with connection.cursor() as cursor:
        cursor.execute(_KEY_RESULT_PROGRESS_SQL, [org_id, objective.pk])
        items = [(_stored_decimal(p), _stored_decimal(w)) for p, w in cursor.fetchall()]
        objective.progress = scoring.objective_progress(items)
        # Progress alone, without save(): it is not part of the objective's history
        # (excluded_fields), so a history row would repeat the previous one once per
        # check-in, and it leaves updated_at (the last edit a person made) as it is. The
        # same statement says whether the objective contributes to others and locks those
        # (PostgreSQL): an objective aligned to nothing costs a check-in no statement more.
        aligned = rollup.set_progress(cursor, org_id, objective.pk, objective.progress)
    after = objective.aligned_contribution
    if aligned and after != before:
        objective_rollup_ancestors(
            org_id,
            objective.pk,
            change=(after[0] - before[0], after[1] - before[1]),
            locked=True,
        )
    return objective


def objective_rollup_ancestors(
    org_id: int,
    objective_id: int,
    *,
    change: tuple[int, int] | None = None,
    former_parent_ids: Iterable[int] = (),
    locked: bool = False,
) -> None:
    """Bring the aligned progress of every objective ``objective_id`` contributes to (at
    every level above it) up to date, in the caller's transaction: the one place that keeps
    ``Objective.aligned_progress`` equal to ``scoring.aligned_progress``.

    * ``change``: only the objective's own contribution changed (its progress or its
      archived state), by ``(ten-thousandths of progress, objectives counted)``, as
      ``Objective.aligned_contribution`` tells. Everything above moves by that much: one
      ``UPDATE`` (after the lock, on PostgreSQL). A check-in's path, where the lock came
      with the objective's progress (``locked``): one statement more in all.
    * otherwise the figures above are computed afresh from every contributor: after the
      objective's alignment links changed (``former_parent_ids``: the parents it lost,
      counted afresh with everything above them) or it was deleted (its parents given as
      ``former_parent_ids``).

    The caller holds the objective's row lock (or deleted it). On PostgreSQL the rows above
    are locked next, deepest first (``cycles.rollup.lock``), so writers below one objective
    take turns on it and none writes a figure from a sum another is changing. ``locked``:
    the caller locked them already (``rollup.set_progress``, as a check-in does), in an
    earlier statement, so the write sees what was committed while it waited.

    Private objectives count like any other: the figure is a number, and a blanked node or
    a parent the viewer may read reveals nothing of a private contributor but its share of
    a mean.
    """
    if locked and change is None:
        raise ValueError("Only a change by a known amount is written under locks taken before.")
    also = sorted(set(former_parent_ids))
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        held = rollup.lock(cursor, org_id, objective_id, also) if postgres and not locked else []
        if change is not None and not also:
            if postgres and not locked and not held:
                return  # nothing above it any more
            # A link added above while the lock waited is seen by this write (a newer
            # snapshot), which adds to that objective too: an increment is safe unlocked.
            rollup.add(cursor, org_id, objective_id, *change)
            return
        written = rollup.recompute(cursor, org_id, objective_id, also)
        # A figure computed afresh is not: lock and count again those the write found but
        # the lock did not (a link added above while it waited), now that none can move.
        missed = sorted(set(written) - set(held)) if postgres and not locked else []
        if missed:
            rollup.lock_ids(cursor, org_id, missed)
            rollup.recompute_ids(cursor, org_id, missed)


@transaction.atomic
def objectives_rollup_organisation(org_id: int) -> int:
    """Compute afresh the aligned progress of every objective of the organisation, after
    rows were written in bulk (an import, the scale data). Returns how many were written."""
    with connection.cursor() as cursor:
        return rollup.recompute_organisation(cursor, org_id)


# --- Key results ------------------------------------------------------------------------------


KEY_RESULT_FIELDS = (
    "title", "owner", "kind", "currency", "direction", "start_value", "target_value",
    "lower_bound", "upper_bound", "current_value", "unit", "weight", "confidence",
)  # fmt: skip


def _validate_key_result(kr: KeyResult) -> None:
    errors: dict[str, str] = {}
    if not kr.title.strip():
        errors["title"] = _("A key result needs a title.")
    if kr.kind == scoring.Kind.CURRENCY:
        if not (len(kr.currency) == 3 and kr.currency.isalpha()):
            errors["currency"] = _("Give the currency as a three-letter code, e.g. USD or TWD.")
        kr.currency = kr.currency.upper()
    else:
        kr.currency = ""
    if kr.kind == scoring.Kind.MILESTONE:
        # A milestone is done (1) or not (0); it has no numeric start or target to set.
        kr.direction = scoring.Direction.INCREASE
        kr.start_value, kr.target_value = Decimal(0), Decimal(1)
        kr.lower_bound = kr.upper_bound = None
        if kr.current_value is not None and kr.current_value not in (0, 1):
            errors["current_value"] = _("A milestone is either not done (0) or done (1).")
    elif kr.direction == scoring.Direction.STAY_BETWEEN:
        if kr.lower_bound is None:
            errors["lower_bound"] = _("Give the lower bound.")
        if kr.upper_bound is None:
            errors["upper_bound"] = _("Give the upper bound.")
        if (
            kr.lower_bound is not None
            and kr.upper_bound is not None
            and (kr.lower_bound > kr.upper_bound)
        ):
            errors["upper_bound"] = _("The upper bound must not be below the lower bound.")
    elif kr.direction in (scoring.Direction.STAY_AT_LEAST, scoring.Direction.STAY_AT_MOST):
        if kr.target_value is None:
            errors["target_value"] = _("Give the value to stay at.")
    else:
        if kr.start_value is None:
            errors["start_value"] = _("Give the start value.")
        if kr.target_value is None:
            errors["target_value"] = _("Give the target value.")
        if kr.start_value is not None and kr.target_value is not None:
            if kr.start_value == kr.target_value:
                errors["target_value"] = _(
                    "The target equals the start, so progress cannot be measured. "
                    "Use a “stay at least/at most” direction to hold a value."
                )
            elif kr.direction == scoring.Direction.INCREASE and kr.target_value < kr.start_value:
                errors["target_value"] = _("To increase, the target must be above the start.")
            elif kr.direction == scoring.Direction.DECREASE and kr.target_value > kr.start_value:
                errors["target_value"] = _("To decrease, the target must be below the start.")
    if kr.kind == scoring.Kind.PERCENT and not kr.unit:
        kr.unit = "%"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def key_result_create(
    *,
    org: Organization,
    by: Membership,
    objective: Objective,
    title: str,
    owner: Membership,
    kind: str = "number",
    direction: str = "increase",
    start_value: Decimal | None = None,
    target_value: Decimal | None = None,
    lower_bound: Decimal | None = None,
    upper_bound: Decimal | None = None,
    current_value: Decimal | None = None,
    unit: str = "",
    currency: str = "",
    weight: Decimal = Decimal(1),
    confidence: int = 5,
) -> KeyResult:
    page_cache.bump(org)  # the company view and the tree show this
    require_same_org(org, objective, owner)
    objective = Objective.objects.for_org(org).select_related("cycle", "owner").get(pk=objective.pk)
    _hold_open(org, objective.cycle)
    _require(permissions.can_edit_objective(by, objective))
    position = KeyResult.objects.for_org(org).filter(objective=objective).count()
    kr = KeyResult(
        organization=org,
        objective=objective,
        title=title.strip(),
        owner=owner,
        kind=kind,
        direction=direction,
        start_value=start_value,
        target_value=target_value,
        lower_bound=lower_bound,
        upper_bound=upper_bound,
        current_value=current_value,
        unit=unit.strip(),
        currency=currency.strip(),
        weight=weight,
        confidence=confidence,
        position=position,
    )
    _validate_key_result(kr)
    kr.full_clean(exclude=["organization", "objective", "owner", "carried_from"])
    kr.progress = kr.compute_progress()
    kr._history_user = by.user
    kr.save()
    objective_recompute_progress(objective)
    return kr


@transaction.atomic
def key_result_update(
    *,
    org: Organization,
    by: Membership,
    key_result: KeyResult,
    expected_version: int | None,
    **fields,
) -> KeyResult:
    """Edit a key result; a stale ``expected_version`` raises :class:`ConflictError`."""
    page_cache.bump(org)  # the company view and the tree show this
    unknown = set(fields) - set(KEY_RESULT_FIELDS)
    if unknown:
        raise ValueError(f"Not key result fields: {sorted(unknown)}")
    # The objective is locked with it: its progress is rewritten below. Not the cycle or
    # the owner's membership, which are only read (locking them queued every edit of the
    # cycle behind one another).
    kr = (
        KeyResult.objects.for_org(org)
        .select_for_update(of=("self", "objective"))
        .select_related("objective__cycle", "objective__owner")
        .get(pk=key_result.pk)
    )
    _require(permissions.can_edit_key_result(by, kr))
    _hold_open(org, kr.objective.cycle)
    _check_version(
        kr,
        expected_version,
        _(
            "This key result was changed since you opened it. The newer values are shown; "
            "apply your edits again."
        ),
    )
    require_same_org(org, fields.get("owner"))
    for name, value in fields.items():
        setattr(kr, name, value.strip() if isinstance(value, str) else value)
    _validate_key_result(kr)
    kr.full_clean(exclude=["organization", "objective", "owner", "carried_from"])
    kr.progress = kr.compute_progress()
    kr.version += 1
    kr._history_user = by.user
    kr.save()
    objective_recompute_progress(kr.objective, locked=True)
    return kr


# What a check-in changes on its key result (besides progress and version).
_RECORDED = ("current_value", "confidence")


def key_result_record_value(
    *,
    org: Organization,
    by: Membership,
    key_result: KeyResult,
    value: Decimal,
    confidence: int,
    locked: bool = False,
) -> KeyResult:
    """A check-in's effect on its key result: current value, confidence, progress upward.

    Who may check in is the check-in's rule (``checkins.services``); this enforces what
    the KR itself demands: an active cycle and a value that fits the KR.

    ``locked``: the caller has just read ``key_result`` with ``select_for_update()``, its
    objective locked with it (the objective's progress is rewritten from all its key
    results: check-ins on two of them must take turns) and its cycle, in the transaction
    it is in, as the check-in service does; the row is then used as it is instead of being
    locked and read a second time. Every rule is checked before anything is written, so no
    savepoint of its own is needed.
    """
    if not locked:
        with transaction.atomic():
            kr = (
                KeyResult.objects.for_org(org)
                .select_for_update(of=("self", "objective"))
                .select_related("objective__cycle")
                .get(pk=key_result.pk)
            )
            return key_result_record_value(
                org=org, by=by, key_result=kr, value=value, confidence=confidence, locked=True
            )
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("A key result given as locked must be locked in this transaction.")
    require_same_org(org, key_result)
    kr = key_result
    cycle = hold_cycle_state(org, kr.objective.cycle)
    _require_not_frozen(cycle)  # closed: said as for every other write into it
    if cycle.state != CycleState.ACTIVE:
        raise ValidationError(
            _("%(cycle)s is not active; check-ins are taken only in the active cycle.")
            % {"cycle": kr.objective.cycle.name},
            code="cycle_not_active",
        )
    # The company view and the tree show this (and the check-in that called us); of the
    # pages kept per person, only the owner's and the key result's own.
    page_cache.bump_activity(org, people=[kr.owner_id], key_results=[kr.pk])
    kr.current_value, kr.confidence = value, confidence
    _validate_key_result(kr)
    # Field validators cover the value and the confidence (1-10); the table's CHECK
    # constraints are enforced by the database on save, so asking it first (three queries
    # per constraint) only slows every check-in down.
    kr.clean_fields(exclude=[f.name for f in kr._meta.fields if f.name not in _RECORDED])
    kr.progress = kr.compute_progress()
    kr.version += 1
    kr.updated_at = timezone.now()
    # The row and its history version as save() and simple_history would write them,
    # from SQL built once (``okrapp.rows``): a check-in's own cost, every week.
    rows.update(kr, (*_RECORDED, "progress", "version", "updated_at"))
    rows.copy_to_history(kr, rows.CHANGED, user_id=by.user_id, when=kr.updated_at)
    objective_recompute_progress(kr.objective, locked=True)
    return kr


@transaction.atomic
def key_result_delete(*, org: Organization, by: Membership, key_result: KeyResult) -> None:
    page_cache.bump(org)  # the company view and the tree show this
    kr = (
        KeyResult.objects.for_org(org)
        .select_related("objective__cycle", "objective__owner")
        .get(pk=key_result.pk)
    )
    _require(permissions.can_edit_objective(by, kr.objective))
    _hold_open(org, kr.objective.cycle)
    objective = kr.objective
    kr._history_user = by.user
    kr.delete()
    objective_recompute_progress(objective)


# --- Initiatives -------------------------------------------------------------------------------


@transaction.atomic
def initiative_save(
    *,
    org: Organization,
    by: Membership,
    key_result: KeyResult,
    title: str,
    status: str = "not_started",
    owner: Membership | None = None,
    backlog_url: str = "",
    initiative: Initiative | None = None,
) -> Initiative:
    """Create an initiative under a key result, or update ``initiative``."""
    require_same_org(org, key_result, owner, initiative)
    kr = (
        KeyResult.objects.for_org(org)
        .select_related("objective__cycle", "objective__owner")
        .get(pk=key_result.pk)
    )
    _require(permissions.can_edit_key_result(by, kr))
    _hold_open(org, kr.objective.cycle)
    if initiative is None:
        initiative = Initiative(organization=org, key_result=kr)
    elif initiative.key_result_id != kr.pk:
        raise ValidationError(_("That initiative belongs to another key result."))
    initiative.title, initiative.status = title.strip(), status
    initiative.owner, initiative.backlog_url = owner, backlog_url.strip()
    if not initiative.title:
        raise ValidationError({"title": _("An initiative needs a title.")})
    initiative.full_clean(exclude=["organization", "key_result", "owner"])
    initiative.save()
    page_cache.bump(org)  # the key result's page and its quality flags show it
    return initiative


@transaction.atomic
def initiative_delete(*, org: Organization, by: Membership, initiative: Initiative) -> None:
    initiative = (
        Initiative.objects.for_org(org)
        .select_related("key_result__objective__cycle", "key_result__objective__owner")
        .get(pk=initiative.pk)
    )
    _require(permissions.can_edit_key_result(by, initiative.key_result))
    _hold_open(org, initiative.key_result.objective.cycle)
    initiative.delete()
    page_cache.bump(org)


# --- Quality review ------------------------------------------------------------------------------


@transaction.atomic
def review_submit(
    *, org: Organization, by: Membership, objective: Objective, decision: str, comment: str = ""
) -> Review:
    """An OKR Master approves an objective or asks its owner for changes (with a comment)."""
    _require(permissions.can_review(by))
    require_same_org(org, objective)
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": _("Approve or request changes.")})
    if decision == ReviewDecision.CHANGES_REQUESTED and not comment.strip():
        raise ValidationError({"comment": _("Say what should change, so the owner can act on it.")})
    objective = (
        Objective.objects.for_org(org)
        .select_for_update(of=("self",))
        .select_related("cycle")
        .get(pk=objective.pk)
    )
    _hold_open(org, objective.cycle)  # a closed cycle's objectives are no longer reviewed
    review = Review.objects.create(
        organization=org,
        objective=objective,
        reviewer=by,
        decision=decision,
        comment=comment.strip(),
        created_at=timezone.now(),
    )
    objective.review_status = (
        ReviewStatus.APPROVED
        if decision == ReviewDecision.APPROVED
        else ReviewStatus.CHANGES_REQUESTED
    )
    objective._history_user = by.user
    objective.save(update_fields=["review_status"])
    page_cache.bump(org)  # review badges on the tree and the objective's pages
    return review


# --- End-of-quarter self-scoring ---------------------------------------------------------------


@transaction.atomic
def score_submit(
    *,
    org: Organization,
    by: Membership,
    key_result: KeyResult,
    score: Decimal,
    what_worked: str = "",
    what_to_change: str = "",
    reason: str = "",
) -> KeyResultScore:
    """The owner scores their KR 0.0-1.0 (one decimal) with a reflection.

    Only while the cycle is in scoring. A committed objective's KR scored below 1.0 needs
    a reflection (what to change, and a reason), since it was expected to be met.
    """
    require_same_org(org, key_result)
    kr = (
        KeyResult.objects.for_org(org)
        .select_related("objective__cycle", "owner")
        .get(pk=key_result.pk)
    )
    if kr.owner_id != by.pk and not by.is_admin:
        raise PermissionDenied(_("Only the key result's owner scores it."))
    # Held until the score commits: a score that waited for the close is refused.
    if hold_cycle_state(org, kr.objective.cycle).state != CycleState.SCORING:
        raise ValidationError(
            _("%(cycle)s is not in scoring; scores are given while it is.")
            % {"cycle": kr.objective.cycle.name},
            code="not_scoring",
        )
    errors = {}
    try:
        score = Decimal(score)
    except (ArithmeticError, TypeError, ValueError):
        score = None
    if score is None or not score.is_finite() or not 0 <= score <= 1:
        errors["score"] = _("Score from 0.0 to 1.0.")
    elif score != score.quantize(Decimal("0.1")):
        errors["score"] = _("Use one decimal, e.g. 0.7.")
    if reason and reason not in ReasonCode.values:
        errors["reason"] = _("Choose a reason from the list.")
    if not errors and kr.objective.is_committed and score < 1:
        if not what_to_change.strip():
            errors["what_to_change"] = _(
                "A committed key result scored below 1.0 needs a reflection: what would you "
                "change next time?"
            )
        if not reason:
            errors["reason"] = _("Choose the main reason it fell short.")
    if errors:
        raise ValidationError(errors)
    record = KeyResultScore.objects.for_org(org).filter(key_result=kr).first() or KeyResultScore(
        organization=org, key_result=kr
    )
    record.score = score.quantize(Decimal("0.1"))
    record.suggested = scoring.suggested_score(kr.progress)
    record.what_worked, record.what_to_change = what_worked.strip(), what_to_change.strip()
    record.reason, record.scored_by, record.scored_at = reason, by, timezone.now()
    record._history_user = by.user
    record.save()
    page_cache.bump(org)  # the key result's page shows its score
    return record


@transaction.atomic
def score_review(
    *, org: Organization, by: Membership, score: KeyResultScore, comment: str
) -> KeyResultScore:
    """A manager of the owner comments on a self-score."""
    require_same_org(org, score)
    record = (
        KeyResultScore.objects.for_org(org)
        .select_related("key_result__owner", "key_result__objective__cycle")
        .get(pk=score.pk)
    )
    owner = record.key_result.owner
    if owner.pk == by.pk or not (
        by.is_admin or owner.manager_id == by.pk or owner.team_ids & by.managed_team_ids
    ):
        raise PermissionDenied(_("Only the owner's manager reviews their scores."))
    if record.key_result.objective.cycle.state not in (CycleState.SCORING, CycleState.CLOSED):
        raise ValidationError(_("Scores are reviewed during scoring."))
    if not comment.strip():
        raise ValidationError({"comment": _("Write a comment for the owner.")})
    record.manager_comment, record.reviewed_by = comment.strip(), by
    record.reviewed_at = timezone.now()
    record._history_user = by.user
    record.save(update_fields=["manager_comment", "reviewed_by", "reviewed_at"])
    page_cache.bump(org)
    return record
