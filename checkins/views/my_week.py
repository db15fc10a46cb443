"""“My week”: everything a person owns in the active cycle, checked in in a minute."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from checkins import selectors, services
from checkins.forms import CheckInForm
from checkins.models import week_label
from cycles.services import ConflictError
from okrapp import cache as page_cache
from okrapp.forms import apply_service_errors
from okrapp.rendering import render_page


def _prefix(kr_id: int) -> str:
    return f"kr{kr_id}"


def _load(request, key_result_ids=None, *, checkins=True) -> selectors.MyWeek:
    org = request.org
    week = services.current_week(org)
    today = timezone.localtime(timezone.now(), org.zoneinfo).date()
    return selectors.my_week(
        org, request.membership, week, today, key_result_ids, checkins=checkins
    )


def _attach_forms(page: selectors.MyWeek, data=None, only: set[int] | None = None):
    for item in page.key_results:
        bound = data is not None and (only is None or item.kr.pk in only)
        item.form = CheckInForm(
            data if bound else None,
            prefix=_prefix(item.kr.pk),
            initial={**item.prefill, "revision": item.revision},
        )
        item.saved = False
        item.conflict = None


def _save(request, item) -> bool:
    """Save one KR's form; errors land on the form. True when it was recorded."""
    form = item.form
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        checkin = services.checkin_record(
            org=request.org,
            by=request.membership,
            key_result=item.kr,
            value=data["value"],
            confidence=data["confidence"],
            note=data["note"],
            need_help=data["need_help"],
            expected_revision=data["revision"],
        )
    except ConflictError as exc:
        item.conflict = exc.current
        form.add_error(None, exc.messages)
        return False
    except ValidationError as exc:
        apply_service_errors(form, exc)
        return False
    # Whoever shows the item next reloads the page's figures (or redirects).
    item.this_week, item.saved = checkin, True
    return True


@page_cache.per_viewer(
    "my-week",
    scopes=lambda request, **_: (page_cache.STRUCTURE, page_cache.person(request.membership.pk)),
)
def my_week(request, org_slug):
    """GET the page; POST saves every KR on it (or only ``only``), no JavaScript needed.

    The page is kept per person until the organisation's structure or the person's own
    activity (their check-ins, their manager's acknowledgements) changes."""
    page = _load(request)
    if request.method != "POST":
        _attach_forms(page)
        return render_page(
            request, "checkins/my_week.html", {"page": page, "week_label": week_label(page.week)}
        )
    only = request.POST.get("only")
    only_ids = {int(only)} if only and only.isdigit() else None
    _attach_forms(page, request.POST, only_ids)
    targets = [i for i in page.key_results if only_ids is None or i.kr.pk in only_ids]
    if not targets:
        raise Http404
    results = [_save(request, item) for item in targets]
    if all(results):
        messages.success(
            request, _("Checked in on %(n)s key result(s). Thank you!") % {"n": len(results)}
        )
        return redirect("my_week", org_slug=request.org.slug)
    saved = sum(results)
    if saved:
        messages.success(request, _("%(n)s saved; fix the marked ones below.") % {"n": saved})
    page = _refresh(request, page)
    return render_page(
        request,
        "checkins/my_week.html",
        {"page": page, "week_label": week_label(page.week)},
        status=400,
    )


def _refresh(request, page):
    """Recompute due/done after partial saves, keeping each form as submitted."""
    fresh = _load(request)
    forms = {i.kr.pk: i for i in page.key_results}
    for item in fresh.key_results:
        old = forms[item.kr.pk]
        item.form, item.saved, item.conflict = old.form, old.saved, old.conflict
        if old.saved or not old.form.is_bound:
            item.form = CheckInForm(
                prefix=_prefix(item.kr.pk), initial={**item.prefill, "revision": item.revision}
            )
    return fresh


@require_POST
def my_week_save(request, org_slug, kr_id):
    """Save one KR (htmx from its card; Enter in its fields)."""
    # Saving needs the key result, not its history: that is read only to draw an answer.
    page = _load(request, [kr_id], checkins=False)
    if not page.key_results:
        # Not in the person's week: another's KR, another organisation's, or not in the
        # active cycle (the week's own query is scoped to the organisation).
        raise Http404
    item = page.key_results[0]
    kr = item.kr
    _attach_forms(page, request.POST)
    ok = _save(request, item)
    if not request.htmx:
        if ok:
            messages.success(request, _("Checked in on “%(kr)s”.") % {"kr": kr.title})
            return redirect("my_week", org_slug=request.org.slug)
        full = _refresh(request, page)
        return render_page(
            request,
            "checkins/my_week.html",
            {"page": full, "week_label": week_label(full.week)},
            status=400,
        )
    page = _load(request, [kr.pk])
    card = page.key_results[0]
    if ok:
        card.form = CheckInForm(
            prefix=_prefix(kr.pk), initial={**card.prefill, "revision": card.revision}
        )
    else:
        card.form = item.form  # as submitted, with its errors
    card.saved, card.conflict = ok, item.conflict
    status = 200 if ok else (409 if item.conflict is not None else 400)
    return render_page(
        request,
        "checkins/my_week.html",
        {"item": card, "page": page, "week_label": week_label(page.week)},
        partial="kr-card",
        status=status,
    )
