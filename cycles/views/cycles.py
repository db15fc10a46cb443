"""Cycles: the list, the overview of one cycle, and the admin's settings, moves and carry-over."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from cycles import services
from cycles.forms import CarryOverForm, CycleForm, GenerateQuartersForm
from cycles.models import (
    Cycle,
    CyclePilotTeam,
    CycleState,
    CycleTransition,
    KeyResult,
    Level,
    Objective,
    ObjectiveStatus,
)
from cycles.quarters import fiscal_quarters, fiscal_year_of
from cycles.views.common import decorate, frozen_message, get_cycle, review_counts
from cycles.views.scoring import cycle_scoring_context
from okrapp.forms import apply_service_errors
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required

# What each move means, shown on its button and its confirmation page. Keyed by
# (from, to): going back to active from scoring reopens check-ins rather than starting them.
MOVES = {
    (CycleState.DRAFT, CycleState.PLANNING): (
        gettext_lazy("Open planning"),
        gettext_lazy(
            "Everyone can now write objectives and key results for this cycle, aligned to the "
            "company's, and the OKR Master reviews their quality. Nothing is measured yet."
        ),
    ),
    (CycleState.PLANNING, CycleState.DRAFT): (
        gettext_lazy("Back to draft"),
        gettext_lazy(
            "Planning pauses so you can rework the cycle's dates or pilot teams. Objectives "
            "written so far stay."
        ),
    ),
    (CycleState.PLANNING, CycleState.ACTIVE): (
        gettext_lazy("Activate"),
        gettext_lazy(
            "The cycle starts: weekly check-ins begin and owners get a reminder each week "
            "(only the pilot teams, in a pilot cycle). Only one cycle can be active at a time."
        ),
    ),
    (CycleState.ACTIVE, CycleState.SCORING): (
        gettext_lazy("Start scoring"),
        gettext_lazy(
            "Check-ins end and every key result owner is asked to self-score their key "
            "results from 0.0 to 1.0, with a reflection for the next cycle."
        ),
    ),
    (CycleState.SCORING, CycleState.ACTIVE): (
        gettext_lazy("Reopen check-ins"),
        gettext_lazy(
            "The cycle goes back to active: weekly check-ins resume until it moves to "
            "scoring again."
        ),
    ),
    (CycleState.SCORING, CycleState.CLOSED): (
        gettext_lazy("Close cycle"),
        gettext_lazy(
            "Closing freezes the cycle: key results, check-ins and scores can no longer "
            "change, and the quarter's report is produced. This cannot be undone."
        ),
    ),
}


def _moves(cycle: Cycle) -> list[dict]:
    return [
        {"to": to, "label": MOVES[(cycle.state, to)][0], "help": MOVES[(cycle.state, to)][1]}
        for to in cycle.next_states
    ]


# --- The list -------------------------------------------------------------------------------


def _suggested_fiscal_year(org, periods: set[tuple]) -> int:
    """This fiscal year, or the next once every quarter of this one is a cycle: known by
    their (start, end) dates, as ``cycle_generate_quarters`` knows them, not by names that
    are in the language of whoever generated them."""
    today = timezone.localtime(timezone.now(), org.zoneinfo).date()
    year = fiscal_year_of(today, org.fiscal_year_start_month)
    quarters = fiscal_quarters(year, org.fiscal_year_start_month)
    if all((q.start, q.end) in periods for q in quarters):
        year += 1
    return year


def _cycle_list_page(request, *, generate_form=None, create_form=None, status=200):
    org = request.org
    cycles = list(
        Cycle.objects.for_org(org)
        .current_first()
        .prefetch_related("pilot_links__team")
        .annotate(
            objective_count=Count(
                "objectives", filter=~Q(objectives__status=ObjectiveStatus.ARCHIVED)
            )
        )
    )
    context = {"cycles": cycles}
    if request.membership.is_admin:
        year = _suggested_fiscal_year(org, {(c.start_date, c.end_date) for c in cycles})
        context["generate_form"] = generate_form or GenerateQuartersForm(
            initial={"fiscal_year": year}
        )
        context["create_form"] = create_form or CycleForm(org=org)
    return render_page(request, "cycles/cycle_list.html", context, status=status)


def cycle_list(request, org_slug):
    return _cycle_list_page(request)


@admin_required
@require_POST
def cycle_generate(request, org_slug):
    org = request.org
    form = GenerateQuartersForm(request.POST)
    if form.is_valid():
        try:
            created = services.cycle_generate_quarters(
                org=org, by=request.membership, fiscal_year=form.cleaned_data["fiscal_year"]
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if created:
                messages.success(
                    request,
                    ngettext(
                        "Created %(count)d draft cycle: %(names)s.",
                        "Created %(count)d draft cycles: %(names)s.",
                        len(created),
                    )
                    % {"count": len(created), "names": ", ".join(c.name for c in created)},
                )
            else:
                messages.info(
                    request,
                    _("Every quarter of fiscal year %(year)s exists already.")
                    % {"year": form.cleaned_data["fiscal_year"]},
                )
            return redirect("cycle_list", org_slug=org.slug)
    return _cycle_list_page(request, generate_form=form, status=400)


@admin_required
@require_POST
def cycle_create(request, org_slug):
    org = request.org
    form = CycleForm(request.POST, org=org)
    if form.is_valid():
        try:
            cycle = services.cycle_create(org=org, by=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Cycle %(name)s created.") % {"name": cycle.name})
            return redirect("cycle_detail", org_slug=org.slug, cycle_id=cycle.pk)
    return _cycle_list_page(request, create_form=form, status=400)


# --- One cycle ---------------------------------------------------------------------------------


def _cycle_detail_page(request, cycle: Cycle, *, carry_form=None, status=200):
    org, viewer = request.org, request.membership
    company = list(
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .filter(level=Level.COMPANY)
        .with_people()
    )
    expected = decorate(company, viewer, cycle, org=org)
    levels = (
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .aggregate(
            company=Count("id", filter=Q(level=Level.COMPANY)),
            team=Count("id", filter=Q(level=Level.TEAM)),
            individual=Count("id", filter=Q(level=Level.INDIVIDUAL)),
        )
    )
    key_result_count = (
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .exclude(objective__status=ObjectiveStatus.ARCHIVED)
        .count()
    )
    transitions = list(
        CycleTransition.objects.for_org(org).filter(cycle=cycle).select_related("by__user")
    )
    context = {
        "cycle": cycle,
        "today": cycle.today(),
        "expected": expected,
        "company_objectives": company,
        "levels": levels,
        "key_result_count": key_result_count,
        "review_counts": review_counts(org, cycle),
        "transitions": transitions,
        "pilot_teams": [link.team for link in cycle.pilot_links.all()],
        **cycle_scoring_context(request, cycle),
    }
    if viewer.is_admin:
        context["moves"] = _moves(cycle)
        if cycle.state in (CycleState.DRAFT, CycleState.PLANNING):
            context["carry_form"] = carry_form or CarryOverForm(org=org, cycle=cycle)
    return render_page(request, "cycles/cycle_detail.html", context, status=status)


def _with_pilot_teams(request):
    return Cycle.objects.for_org(request.org).prefetch_related(
        Prefetch(
            "pilot_links",
            queryset=CyclePilotTeam.objects.for_org(request.org)
            .select_related("team")
            .order_by("team__name"),
        )
    )


def cycle_detail(request, org_slug, cycle_id):
    cycle = get_cycle(request, cycle_id, _with_pilot_teams(request))
    return _cycle_detail_page(request, cycle)


@admin_required
def cycle_edit(request, org_slug, cycle_id):
    org = request.org
    cycle = get_cycle(request, cycle_id, _with_pilot_teams(request))
    if request.method == "POST":
        form = CycleForm(request.POST, org=org)
        if form.is_valid():
            try:
                services.cycle_update(
                    org=org, by=request.membership, cycle=cycle, **form.cleaned_data
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Cycle settings saved."))
                return redirect("cycle_detail", org_slug=org.slug, cycle_id=cycle.pk)
    else:
        form = CycleForm(org=org, initial=CycleForm.initial_for(cycle))
    return render_page(
        request,
        "cycles/cycle_edit.html",
        {
            "cycle": cycle,
            "form": form,
            "frozen": frozen_message(cycle) if cycle.is_frozen else None,
        },
        status=400 if form.errors else 200,
    )


@admin_required
def cycle_transition(request, org_slug, cycle_id, to_state):
    """GET: what moving the cycle to ``to_state`` means; POST: move it."""
    org = request.org
    if to_state not in CycleState.values:
        raise Http404("No such state.")
    cycle = get_cycle(request, cycle_id)
    error = None
    if request.method == "POST":
        try:
            services.cycle_transition(
                org=org, by=request.membership, cycle=cycle, to_state=to_state
            )
        except ValidationError as exc:
            error = {
                "message": " ".join(exc.messages),
                "code": getattr(exc, "code", None),
                "url": (getattr(exc, "params", None) or {}).get("url"),
            }
        else:
            messages.success(
                request,
                _("%(cycle)s is now %(state)s.")
                % {"cycle": cycle.name, "state": CycleState(to_state).label.lower()},
            )
            return redirect("cycle_detail", org_slug=org.slug, cycle_id=cycle.pk)
    move = MOVES.get((cycle.state, to_state))
    context = {
        "cycle": cycle,
        "to_state": to_state,
        "to_label": CycleState(to_state).label,
        "move": {"label": move[0], "help": move[1]} if move else None,
        "error": error,
        # Warn before the click; the service refuses it anyway.
        "mission_missing": to_state == CycleState.ACTIVE and not org.has_mission_and_vision,
    }
    return render_page(
        request, "cycles/cycle_transition.html", context, status=400 if error else 200
    )


@admin_required
@require_POST
def cycle_carry_over(request, org_slug, cycle_id):
    org = request.org
    cycle = get_cycle(request, cycle_id, _with_pilot_teams(request))
    form = CarryOverForm(request.POST, org=org, cycle=cycle)
    if form.is_valid():
        source = form.cleaned_data["from_cycle"]
        try:
            copied = services.cycle_carry_over(
                org=org, by=request.membership, from_cycle=source, to_cycle=cycle
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if copied:
                messages.success(
                    request,
                    ngettext(
                        "Carried %(count)d unfinished key result over from %(cycle)s.",
                        "Carried %(count)d unfinished key results over from %(cycle)s.",
                        len(copied),
                    )
                    % {"count": len(copied), "cycle": source.name},
                )
            else:
                messages.info(
                    request,
                    _("%(cycle)s has no unfinished key results left to carry over.")
                    % {"cycle": source.name},
                )
            return redirect("cycle_detail", org_slug=org.slug, cycle_id=cycle.pk)
    return _cycle_detail_page(request, cycle, carry_form=form, status=400)
