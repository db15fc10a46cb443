"""Key results: create, read (values, progress, initiatives, history), edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cycles import permissions, quality, services
from cycles.forms import InitiativeForm, KeyResultForm, owner_matches, owner_shortlist
from cycles.models import Initiative, KeyResult
from cycles.views.common import (
    change_history,
    conflict_form,
    frozen_message,
    get_readable_key_result,
    get_readable_objective,
    set_track,
)
from cycles.views.scoring import key_result_score
from okrapp.forms import apply_service_errors
from okrapp.rendering import render_page


def _objective_url(org, objective_id: int, anchor: str = "") -> str:
    url = reverse("objective_detail", kwargs={"org_slug": org.slug, "objective_id": objective_id})
    return f"{url}#{anchor}" if anchor else url


def key_result_create(request, org_slug, objective_id):
    org, viewer = request.org, request.membership
    objective = get_readable_objective(request, objective_id)
    if not permissions.can_edit_objective(viewer, objective):
        raise PermissionDenied
    if request.method == "POST":
        form = KeyResultForm(request.POST, org=org)
        if form.is_valid():
            try:
                kr = services.key_result_create(
                    org=org, by=viewer, objective=objective, **form.cleaned_data
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Key result “%(title)s” added.") % {"title": kr.title})
                if "add_another" in request.POST:
                    return redirect(
                        "key_result_create", org_slug=org.slug, objective_id=objective.pk
                    )
                return redirect(_objective_url(org, objective.pk, f"kr-{kr.pk}"))
    else:
        form = KeyResultForm(org=org, initial={"owner": objective.owner_id})
    return render_page(
        request,
        "cycles/key_result_form.html",
        {
            "objective": objective,
            "cycle": objective.cycle,
            "form": form,
            "frozen": frozen_message(objective.cycle) if objective.cycle.is_frozen else None,
        },
        status=400 if form.errors else 200,
    )


def key_result_page(request, kr: KeyResult, *, initiative_form=None, status=200):
    """The key result's initiatives (htmx), or its page when a form without JavaScript
    was refused. The page itself is served by the cadence app (``checkins``), which adds
    check-ins to :func:`key_result_context`."""
    context = key_result_context(request, kr, initiative_form=initiative_form)
    return render_page(
        request, "cycles/key_result_detail.html", context, partial="initiatives", status=status
    )


def key_result_context(request, kr: KeyResult, *, initiative_form=None) -> dict:
    """Everything the KR page shows about the KR itself (values, initiatives, history)."""
    org, viewer = request.org, request.membership
    cycle = kr.objective.cycle
    frozen = cycle.is_frozen
    expected = cycle.expected_progress(cycle.today())
    set_track(kr, expected)
    initiatives = list(
        Initiative.objects.for_org(org).filter(key_result=kr).select_related("owner__user")
    )
    can_edit = not frozen and permissions.can_edit_key_result(viewer, kr)
    # A refused form is shown with its errors even where adding is no longer possible.
    form = initiative_form or (InitiativeForm(org=org) if can_edit else None)
    # The owner lists offer a shortlist (one query), not every member of the organisation:
    # a search box refills them with htmx, or takes an email without JavaScript.
    people = owner_shortlist(org, key_result=kr, viewer=viewer) if can_edit or form else []
    if form is not None:
        form.offer(people, search_url=_owner_search_url(org, kr))
    context = {
        "kr": kr,
        "objective": kr.objective,
        "cycle": cycle,
        "expected": expected,
        "frozen": frozen,
        "can_edit": can_edit,
        "can_delete": not frozen and permissions.can_edit_objective(viewer, kr.objective),
        "initiatives": initiatives,
        "initiatives_flat": quality.initiatives_done_but_flat(
            [i.status for i in initiatives], kr.progress, expected
        ),
        "initiative_form": form,
        "status_choices": Initiative._meta.get_field("status").choices,
        # Owners offered by each initiative's inline edit form, besides its own owner.
        "people": people if can_edit and initiatives else [],
        "people_ids": {p.pk for p in people},
        "owner_search_url": _owner_search_url(org, kr),
    }
    if not request.htmx:
        context.update(key_result_score(request, kr))
        context["findings"] = quality.check_key_result(kr)
        context["history"] = change_history(
            org,
            kr.history.filter(organization_id=org.pk).select_related("history_user"),
            subject=lambda r: _("the key result"),
        )
    return context


def _owner_search_url(org, kr: KeyResult) -> str:
    return reverse("initiative_owner_options", kwargs={"org_slug": org.slug, "kr_id": kr.pk})


def initiative_owner_options(request, org_slug, kr_id):
    """The ``<option>``s of an initiative's owner list for the search box (htmx): nobody,
    the members whose name or email contains ``q`` (the first one chosen), then the
    shortlist. Only for those who may edit the key result's initiatives."""
    org, viewer = request.org, request.membership
    kr = get_readable_key_result(request, kr_id)
    if kr.objective.cycle.is_frozen or not permissions.can_edit_key_result(viewer, kr):
        raise PermissionDenied
    query = request.GET.get("q", request.GET.get("owner_email", ""))
    matches = owner_matches(org, query)
    shortlist = owner_shortlist(org, key_result=kr, viewer=viewer)
    return render(
        request,
        "cycles/key_result_detail.html#owner-options",
        {"query": query.strip()[:100], "matches": matches, "shortlist": shortlist},
    )


def key_result_edit(request, org_slug, kr_id):
    org, viewer = request.org, request.membership
    kr = get_readable_key_result(request, kr_id)
    if not permissions.can_edit_key_result(viewer, kr):
        raise PermissionDenied
    newer = None
    if request.method == "POST":
        form = KeyResultForm(request.POST, org=org, key_result=kr)
        if form.is_valid():
            data = dict(form.cleaned_data)
            version = data.pop("version")
            try:
                services.key_result_update(
                    org=org, by=viewer, key_result=kr, expected_version=version, **data
                )
            except services.ConflictError as exc:
                current = exc.current
                form, newer = conflict_form(
                    form,
                    exc,
                    current=KeyResultForm.initial_for(current),
                    rebuild=lambda data: KeyResultForm(data, org=org, key_result=current),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Key result saved."))
                return redirect("key_result_detail", org_slug=org.slug, kr_id=kr.pk)
    else:
        form = KeyResultForm(org=org, key_result=kr, initial=KeyResultForm.initial_for(kr))
    return render_page(
        request,
        "cycles/key_result_form.html",
        {
            "kr": kr,
            "objective": kr.objective,
            "cycle": kr.objective.cycle,
            "form": form,
            "newer": newer,
            "frozen": frozen_message(kr.objective.cycle) if kr.objective.cycle.is_frozen else None,
        },
        # A lost race is a conflict (409, as for a check-in and in the API); bad input 400.
        status=409 if newer is not None else (400 if form.errors else 200),
    )


@require_POST
def key_result_delete(request, org_slug, kr_id):
    org = request.org
    kr = get_readable_key_result(request, kr_id)
    try:
        services.key_result_delete(org=org, by=request.membership, key_result=kr)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("key_result_detail", org_slug=org.slug, kr_id=kr.pk)
    messages.success(request, _("Key result “%(title)s” deleted.") % {"title": kr.title})
    return redirect("objective_detail", org_slug=org.slug, objective_id=kr.objective_id)
