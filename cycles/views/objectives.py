"""Objectives: create, read (with KRs, alignment, quality, reviews, history), edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cycles import permissions, quality, services
from cycles.forms import ObjectiveForm, ReviewForm
from cycles.models import (
    Alignment,
    Initiative,
    KeyResult,
    Level,
    Objective,
    Review,
)
from cycles.views.common import (
    change_history,
    conflict_form,
    decorate,
    frozen_message,
    get_readable_objective,
    load_cycles,
    with_alignment_history,
)
from okrapp.forms import apply_service_errors
from okrapp.models import Team
from okrapp.rendering import render_page


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- Create ------------------------------------------------------------------------------------


def objective_create(request, org_slug):
    """GET: a form prefilled from ``?cycle=&level=&team=&owner=``; POST: create."""
    org, viewer = request.org, request.membership
    source = request.POST if request.method == "POST" else request.GET
    cycles = load_cycles(org)
    cycle_id = _int(source.get("cycle"))
    if source.get("cycle") and cycle_id not in {c.pk for c in cycles}:
        raise Http404("No such cycle.")
    cycle = next(
        (c for c in cycles if c.pk == cycle_id)
        if cycle_id
        else (c for c in cycles if not c.is_frozen),
        None,
    )
    if cycle is None:
        return render_page(request, "cycles/objective_form.html", {"cycle": None, "form": None})
    status = 200
    if request.method == "POST":
        form = ObjectiveForm(request.POST, org=org, cycle=cycle, viewer=viewer)
        if form.is_valid():
            try:
                objective = services.objective_create(
                    org=org, by=viewer, cycle=cycle, **form.cleaned_data
                )
            except PermissionDenied:
                # Keep what was typed: say what is not allowed instead of a bare 403 page.
                form.add_error(None, _permission_message(form.cleaned_data))
                status = 403
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Objective created. Add two to five key results that measure it."),
                )
                return redirect("objective_detail", org_slug=org.slug, objective_id=objective.pk)
        status = status if status != 200 else 400
    else:
        form = ObjectiveForm(org=org, cycle=cycle, viewer=viewer, initial=_prefill(request, org))
    return render_page(
        request,
        "cycles/objective_form.html",
        {
            "cycle": cycle,
            "form": form,
            "frozen": frozen_message(cycle) if cycle.is_frozen else None,
        },
        status=status,
    )


def _prefill(request, org) -> dict:
    initial = {"owner": request.membership.pk, "level": Level.INDIVIDUAL}
    team_ref = request.GET.get("team")
    if team_ref:
        team = (
            Team.objects.for_org(org)
            .filter(**({"pk": int(team_ref)} if team_ref.isdigit() else {"slug": team_ref}))
            .first()
        )
        if team is not None:
            initial |= {"team": team.pk, "level": Level.TEAM}
    if _int(request.GET.get("level")) in Level.values:
        initial["level"] = int(request.GET["level"])
    if _int(request.GET.get("owner")):
        initial["owner"] = int(request.GET["owner"])
    return initial


def _permission_message(data: dict) -> str:
    level = data.get("level")
    if level == Level.COMPANY:
        return _("Only admins write company objectives.")
    if level == Level.TEAM:
        return _("Only the team's managers and admins write its objectives.")
    return _("You can write individual objectives for yourself and the people you manage.")


# --- Read ---------------------------------------------------------------------------------------


def _detail_queryset(org):
    return Objective.objects.for_org(org).prefetch_related(
        Prefetch(
            "key_results",
            queryset=KeyResult.objects.for_org(org)
            .select_related("owner__user")
            .prefetch_related(
                Prefetch(
                    "initiatives",
                    queryset=Initiative.objects.for_org(org).select_related("owner__user"),
                )
            ),
        )
    )


def objective_page(request, objective_id: int, *, review_form=None, status=200):
    """The objective's page as this app knows it; the review view shows it again with a
    refused review form. The page people open is the cadence app's, which adds the
    conversation to :func:`objective_context`."""
    context = objective_context(request, objective_id, review_form=review_form)
    return render_page(request, "cycles/objective_detail.html", context, status=status)


def objective_context(request, objective_id: int, *, review_form=None) -> dict:
    """Everything the objective page shows about the objective and its key results."""
    org, viewer = request.org, request.membership
    objective = get_readable_objective(request, objective_id, _detail_queryset(org))
    cycle = objective.cycle
    expected = decorate([objective], viewer, cycle, org=org, with_key_results=True)
    key_results = list(objective.key_results.all())
    for kr in key_results:
        kr.initiatives_flat = quality.initiatives_done_but_flat(
            [i.status for i in kr.initiatives.all()], kr.progress, expected
        )
    parents = list(
        Objective.objects.for_org(org)
        .filter(down_links__child=objective)
        .select_related("owner__user", "team")
    )
    children = list(
        Objective.objects.for_org(org)
        .filter(up_links__parent=objective)
        .current()
        .select_related("owner__user", "team")
    )
    decorate(parents + children, viewer, cycle, org=org, expected=expected)
    owner_count = (
        Objective.objects.for_org(org)
        .in_cycle(cycle)
        .current()
        .filter(owner=objective.owner)
        .count()
    )
    findings = quality.check_objective(
        objective,
        key_results,
        has_upward_link=bool(parents),
        owner_objective_count=owner_count,
    )
    for kr in key_results:
        kr.findings = [f for f in findings if f.key_result_id == kr.pk]
    reviews = list(
        Review.objects.for_org(org).filter(objective=objective).select_related("reviewer__user")
    )
    titles = {kr.pk: kr.title for kr in key_results}
    history = change_history(
        org,
        list(objective.history.filter(organization_id=org.pk).select_related("history_user"))
        + list(
            KeyResult.history.filter(
                organization_id=org.pk, objective_id=objective.pk
            ).select_related("history_user")
        ),
        subject=lambda r: (
            _("key result “%(title)s”") % {"title": titles.get(r.id, r.title)}
            if isinstance(r, KeyResult.history.model)
            else _("the objective")
        ),
    )
    history = with_alignment_history(org, viewer, objective, history)
    context = {
        "objective": objective,
        "cycle": cycle,
        "expected": expected,
        "key_results": key_results,
        "parents": parents,
        "children": children,
        "findings": findings,
        "reviews": reviews,
        "history": history,
        "review_form": review_form
        or (
            ReviewForm(auto_id="id_review_%s")
            if permissions.can_review(viewer) and not cycle.is_frozen
            else None
        ),
    }
    return context


# --- Edit ---------------------------------------------------------------------------------------


def _current_parent_ids(org, objective) -> list[int]:
    return list(
        Alignment.objects.for_org(org).filter(child=objective).values_list("parent_id", flat=True)
    )


def objective_edit(request, org_slug, objective_id):
    org, viewer = request.org, request.membership
    objective = get_readable_objective(request, objective_id)
    if not permissions.can_edit_objective(viewer, objective):
        raise PermissionDenied
    cycle = objective.cycle
    parent_ids = _current_parent_ids(org, objective)
    newer, status = None, 200
    if request.method == "POST":
        form = ObjectiveForm(request.POST, org=org, cycle=cycle, viewer=viewer, objective=objective)
        if form.is_valid():
            data = dict(form.cleaned_data)
            version = data.pop("version")
            aligned_to = list(data.pop("aligned_to"))
            # Links to private objectives this person cannot see were not offered; keep them.
            offered = {o.pk for o in form.fields["aligned_to"].queryset}
            hidden = [pk for pk in parent_ids if pk not in offered]
            if hidden:
                aligned_to += list(Objective.objects.for_org(org).filter(pk__in=hidden))
            try:
                services.objective_update(
                    org=org,
                    by=viewer,
                    objective=objective,
                    expected_version=version,
                    aligned_to=aligned_to,
                    **data,
                )
            except services.ConflictError as exc:
                current = exc.current
                form, newer = conflict_form(
                    form,
                    exc,
                    current=ObjectiveForm.initial_for(current)
                    | {"aligned_to": _current_parent_ids(org, current)},
                    rebuild=lambda data: ObjectiveForm(
                        data, org=org, cycle=cycle, viewer=viewer, objective=current
                    ),
                )
                status = 409  # a lost race, as for a check-in and in the API
            except PermissionDenied:
                # Moving it to a level or team the editor may not write for; keep the input.
                form.add_error(None, _permission_message(form.cleaned_data))
                status = 403
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Objective saved."))
                return redirect("objective_detail", org_slug=org.slug, objective_id=objective.pk)
    else:
        initial = ObjectiveForm.initial_for(objective) | {"aligned_to": parent_ids}
        form = ObjectiveForm(
            org=org, cycle=cycle, viewer=viewer, objective=objective, initial=initial
        )
    return render_page(
        request,
        "cycles/objective_form.html",
        {
            "cycle": cycle,
            "objective": objective,
            "form": form,
            "newer": newer,
            "frozen": frozen_message(cycle) if cycle.is_frozen else None,
        },
        status=status if status != 200 else (400 if form.errors else 200),
    )


@require_POST
def objective_delete(request, org_slug, objective_id):
    org = request.org
    objective = get_readable_objective(request, objective_id)
    try:
        services.objective_delete(org=org, by=request.membership, objective=objective)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("objective_detail", org_slug=org.slug, objective_id=objective.pk)
    messages.success(request, _("Objective “%(title)s” deleted.") % {"title": objective.title})
    query = f"?cycle={objective.cycle_id}"
    if objective.level == Level.TEAM and objective.team:
        return redirect(
            reverse("team_okrs", kwargs={"org_slug": org.slug, "team_slug": objective.team.slug})
            + query
        )
    if objective.level == Level.INDIVIDUAL:
        return redirect(
            reverse(
                "person_okrs", kwargs={"org_slug": org.slug, "membership_id": objective.owner_id}
            )
            + query
        )
    return redirect("cycle_detail", org_slug=org.slug, cycle_id=objective.cycle_id)
