"""Kudos: recognition between colleagues; the organisation's feed and each person's."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from checkins import selectors, services
from checkins.forms import KudosForm
from checkins.models import Kudos
from okrapp.forms import apply_service_errors
from okrapp.models import Membership
from okrapp.rendering import render_page

PER_PAGE = 30


def _form(request, data=None, *, receiver: Membership | None = None) -> KudosForm:
    viewer = request.membership
    initial = {}
    if receiver is not None and receiver.pk != viewer.pk and receiver.active:
        initial["receiver"] = receiver.pk
    return KudosForm(
        data,
        org=request.org,
        by=viewer,
        cycle=selectors.active_cycle(request.org),
        initial=initial,
    )


def _page(request, kudos, number) -> tuple:
    """One page of kudos, each with what it was for when the viewer may read that."""
    page = Paginator(
        kudos.with_people().select_related("key_result__objective"), PER_PAGE
    ).get_page(number)
    items = list(page.object_list)
    selectors.kudos_subjects(items, request.membership)
    return page, items


def _feed(request, form: KudosForm, status: int = 200):
    page, items = _page(request, Kudos.objects.for_org(request.org), request.GET.get("page"))
    return render_page(
        request,
        "checkins/kudos_feed.html",
        {"page": page, "kudos": items, "form": form},
        status=status,
    )


def _person_page(request, person: Membership, form: KudosForm, status: int = 200):
    received = Kudos.objects.for_org(request.org).filter(receiver=person)
    page, items = _page(request, received, request.GET.get("page"))
    return render_page(
        request,
        "checkins/person_kudos.html",
        {
            "person": person,
            "is_me": person.pk == request.membership.pk,
            "page": page,
            "kudos": items,
            "form": form,
        },
        status=status,
    )


def _person(request, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.for_org(request.org).select_related("user"), pk=membership_id
    )


def kudos_feed(request, org_slug):
    return _feed(request, _form(request))


def person_kudos(request, org_slug, membership_id):
    person = _person(request, membership_id)
    return _person_page(request, person, _form(request, receiver=person))


def _safe_next(request) -> str:
    nxt = request.POST.get("next", "")
    if nxt.startswith(f"/{request.org.slug}/") and "//" not in nxt and "\\" not in nxt:
        return nxt
    return ""


@require_POST
def kudos_give(request, org_slug):
    form = _form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.kudos_give(
                org=request.org,
                by=request.membership,
                receiver=data["receiver"],
                message=data["message"],
                key_result=data.get("key_result"),
                objective=data.get("objective"),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        except PermissionDenied as exc:  # shape-valid, yet a subject the giver may not read
            form.add_error(None, str(exc) or _("You cannot link kudos to that."))
        else:
            messages.success(
                request,
                _("Kudos sent to %(name)s.") % {"name": data["receiver"].display_name},
            )
            return redirect(_safe_next(request) or reverse("kudos_feed", args=[request.org.slug]))
    messages.error(request, _("The kudos was not sent; see the marked fields."))
    # Back on the page the form was on, with everything typed kept.
    person = _next_person(request)
    if person is not None:
        return _person_page(request, person, form, status=400)
    return _feed(request, form, status=400)


def _next_person(request) -> Membership | None:
    nxt = _safe_next(request)
    if not nxt:
        return None
    try:
        match = resolve(nxt.split("?")[0])
    except Resolver404:
        return None
    if match.url_name != "person_kudos":
        return None
    return (
        Membership.objects.for_org(request.org)
        .select_related("user")
        .filter(pk=match.kwargs["membership_id"])
        .first()
    )
