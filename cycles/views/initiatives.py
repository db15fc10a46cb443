"""Initiatives under a key result: added, changed and removed inline on the KR's page (htmx)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from cycles import services
from cycles.forms import InitiativeForm
from cycles.models import Initiative
from cycles.views.common import get_readable_key_result
from cycles.views.key_results import key_result_page
from okrapp.forms import apply_service_errors


def _back_to(org, kr_id: int):
    url = reverse("key_result_detail", kwargs={"org_slug": org.slug, "kr_id": kr_id})
    return redirect(f"{url}#initiatives")


def _initiative(request, initiative_id: int) -> Initiative:
    initiative = get_object_or_404(Initiative.objects.for_org(request.org), pk=initiative_id)
    initiative.key_result = get_readable_key_result(request, initiative.key_result_id)
    return initiative


def _save(request, kr, form, initiative=None):
    """Save through the service; the KR page (or its initiatives partial) either way."""
    org = request.org
    if form.is_valid():
        try:
            services.initiative_save(
                org=org,
                by=request.membership,
                key_result=kr,
                initiative=initiative,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if not request.htmx:
                return _back_to(org, kr.pk)
            return key_result_page(request, kr)
    # A refused new initiative keeps what was typed in the add form; a refused change is
    # reported there too, since the row shows the stored values.
    return key_result_page(request, kr, initiative_form=form, status=400)


@require_POST
def initiative_create(request, org_slug, kr_id):
    kr = get_readable_key_result(request, kr_id)
    return _save(request, kr, InitiativeForm(request.POST, org=request.org))


@require_POST
def initiative_edit(request, org_slug, initiative_id):
    """Change some fields (the inline status select sends only ``status``); the rest stay."""
    initiative = _initiative(request, initiative_id)
    data = {
        "title": initiative.title,
        "owner": initiative.owner_id or "",
        "status": initiative.status,
        "backlog_url": initiative.backlog_url,
        "owner_email": "",  # someone outside the owner list, by email
    }
    data |= {name: request.POST[name] for name in data if name in request.POST}
    form = InitiativeForm(data, org=request.org, initiative=initiative)
    return _save(request, initiative.key_result, form, initiative=initiative)


@require_POST
def initiative_delete(request, org_slug, initiative_id):
    initiative = _initiative(request, initiative_id)
    kr = initiative.key_result
    try:
        services.initiative_delete(org=request.org, by=request.membership, initiative=initiative)
    except ValidationError as exc:
        form = InitiativeForm(org=request.org)
        form.add_error(None, exc.messages)
        return key_result_page(request, kr, initiative_form=form, status=400)
    if not request.htmx:
        return _back_to(request.org, kr.pk)
    return key_result_page(request, kr)
