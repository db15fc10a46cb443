"""The OKR Master's review queue: quality findings per objective, approve or ask for changes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cycles import permissions, services
from cycles.forms import ReviewForm
from cycles.models import Cycle, CycleState, KeyResult, Objective, Review, ReviewStatus
from cycles.views.common import (
    decorate,
    get_cycle,
    get_readable_objective,
    load_cycles,
    quality_findings,
    review_counts,
)
from cycles.views.objectives import objective_page
from okrapp.forms import apply_service_errors
from okrapp.models import Membership
from okrapp.rendering import render_page
from okrapp.tenancy import role_required

reviewer_required = role_required(Membership.Role.ADMIN, okr_master=True)

FILTERS = {
    "": None,
    "not_reviewed": ReviewStatus.NOT_REVIEWED,
    "changes_requested": ReviewStatus.CHANGES_REQUESTED,
    "approved": ReviewStatus.APPROVED,
}


def _queue_queryset(org):
    return (
        Objective.objects.for_org(org)
        .current()
        .select_related("owner__user", "team")
        .prefetch_related(
            Prefetch("key_results", queryset=KeyResult.objects.for_org(org)),
            Prefetch(
                "reviews", queryset=Review.objects.for_org(org).select_related("reviewer__user")
            ),
        )
    )


def review_form(objective: Objective, data=None) -> ReviewForm:
    # One form per objective on the page: ids stay unique, field names stay plain.
    return ReviewForm(data, auto_id=f"id_review_{objective.pk}_%s")


def _items(request, cycle: Cycle, objectives: list[Objective], forms=None) -> list[dict]:
    org = request.org
    decorate(objectives, request.membership, cycle, org=org)
    findings = quality_findings(org, cycle, [o for o in objectives if o.readable])
    forms = forms or {}
    # A closed cycle's objectives are no longer reviewed (services.review_submit); a refused
    # form is still shown, with its message.
    offered = not cycle.is_frozen
    return [
        {
            "objective": o,
            "findings": findings.get(o.pk, []),
            "last_review": next(iter(o.reviews.all()), None),
            "form": (forms.get(o.pk) or (review_form(o) if offered else None))
            if o.readable
            else None,
        }
        for o in objectives
    ]


def _queue_page(request, cycle: Cycle, *, forms=None, status=200):
    org = request.org
    wanted = request.GET.get("status", "")
    objectives = _queue_queryset(org).in_cycle(cycle)
    if FILTERS.get(wanted):
        objectives = objectives.filter(review_status=FILTERS[wanted])
    context = {
        "cycle": cycle,
        "cycles": load_cycles(org),
        "items": _items(request, cycle, list(objectives), forms),
        "review_counts": review_counts(org, cycle),
        "filter": wanted if wanted in FILTERS else "",
        "filters": [
            ("", _("All")),
            ("not_reviewed", ReviewStatus.NOT_REVIEWED.label),
            ("changes_requested", ReviewStatus.CHANGES_REQUESTED.label),
            ("approved", ReviewStatus.APPROVED.label),
        ],
    }
    return render_page(request, "cycles/review_queue.html", context, status=status)


@reviewer_required
def review_queue(request, org_slug, cycle_id):
    return _queue_page(request, get_cycle(request, cycle_id))


@reviewer_required
def review_current(request, org_slug):
    """The queue of the cycle being planned (else the current one): the navigation's link."""
    cycles = load_cycles(request.org)
    cycle = next((c for c in cycles if c.state == CycleState.PLANNING), None) or next(
        iter(cycles), None
    )
    if cycle is None:
        messages.info(request, _("There is no cycle yet, so there is nothing to review."))
        return redirect("cycle_list", org_slug=request.org.slug)
    return redirect("review_queue", org_slug=request.org.slug, cycle_id=cycle.pk)


@reviewer_required
@require_POST
def objective_review(request, org_slug, objective_id):
    org = request.org
    objective = get_readable_objective(request, objective_id, _queue_queryset(org))
    cycle = objective.cycle
    from_detail = request.POST.get("from") == "detail"
    form = review_form(objective, request.POST)
    if form.is_valid():
        try:
            services.review_submit(
                org=org, by=request.membership, objective=objective, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            decision = form.cleaned_data["decision"]
            note = (
                _("Approved “%(title)s”.")
                if decision == ReviewStatus.APPROVED
                else _("Asked the owner of “%(title)s” for changes.")
            ) % {"title": objective.title}
            if from_detail:
                messages.success(request, note)
                return redirect("objective_detail", org_slug=org.slug, objective_id=objective.pk)
            if request.htmx:
                objective = get_readable_objective(request, objective_id, _queue_queryset(org))
                return _item_response(request, cycle, objective, review_form(objective), note)
            messages.success(request, note)
            url = reverse("review_queue", kwargs={"org_slug": org.slug, "cycle_id": cycle.pk})
            return redirect(f"{url}#objective-{objective.pk}")
    if from_detail:
        return objective_page(request, objective.pk, review_form=form, status=400)
    if request.htmx:
        return _item_response(request, cycle, objective, form, None, status=400)
    return _queue_page(request, cycle, forms={objective.pk: form}, status=400)


def _item_response(request, cycle, objective, form, note, status=200):
    """One objective's review card, and (out of band) the per-team counts it changed."""
    (item,) = _items(request, cycle, [objective], {objective.pk: form})
    context = {
        "cycle": cycle,
        "item": item,
        "note": note,
        "review_counts": review_counts(request.org, cycle),
        "oob": True,
        "can_review": permissions.can_review(request.membership),
    }
    html = render_to_string("cycles/review_queue.html#review-item", context, request=request)
    if status == 200:
        html += render_to_string("cycles/review_queue.html#review-counts", context, request=request)
    return HttpResponse(html, status=status)
