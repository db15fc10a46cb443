"""“My week”: everything a person owns in the active cycle, checked in in a minute."""

from __future__ import annotations

import re
from collections.abc import Collection

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from checkins import selectors, services
from checkins.forms import CheckInForm
from checkins.models import week_label
from cycles.models import KeyResult
from cycles.services import ConflictError
from okrapp import cache as page_cache
from okrapp.forms import apply_service_errors
from okrapp.rendering import render_page

_SENT = re.compile(r"kr([0-9]{1,19})-value")


def _prefix(kr_id: int) -> str:
    return f"kr{kr_id}"


def _load(request, also: Collection[int] = ()) -> selectors.MyWeek:
    """The page; ``also``: the key results a save sent (see ``selectors.my_week``)."""
    org = request.org
    week = services.current_week(org)
    today = timezone.localtime(timezone.now(), org.zoneinfo).date()
    return selectors.my_week(org, request.membership, week, today, also=also)


def _sent(data) -> set[int]:
    """The key results whose fields a "Save all" sent."""
    return {int(m[1]) for name in data if (m := _SENT.fullmatch(name))}


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


def _check_in(request, form: CheckInForm, kr_id: int):
    """Record a valid form's check-in on one of the person's key results, locked and read in
    the transaction that records it (another's key result: 404).

    Returns the check-in, or ``None`` with the errors on the form and, after a lost race,
    ``form.conflict`` set to the newer check-in (``None`` when there is none to show) and
    its revision expected next (``CheckInForm.lost_race``)."""
    org, me = request.org, request.membership
    week = services.current_week(org)
    try:
        with transaction.atomic():
            try:
                kr = services.lock_for_checkin(org, kr_id, week=week)
            except KeyResult.DoesNotExist:
                raise Http404 from None
            if not selectors.checks_in_from_my_week(kr, me):
                raise Http404
            return services.checkin_record(
                org=org, by=me, key_result=kr, locked=True, **form.recorded()
            )
    except ConflictError as exc:
        # A first check-in that lost to another at the same instant has none to show: the
        # winner's is read now that this transaction is over.
        form.lost_race(exc, exc.current or selectors.week_checkin(org, kr_id, week))
    except ValidationError as exc:
        apply_service_errors(form, exc)
    return None


def _save(request, item) -> bool:
    """Save one KR's form on the page; errors land on the form. True when it was recorded."""
    if not item.form.is_valid():
        return False
    checkin = _check_in(request, item.form, item.kr.pk)
    if checkin is None:
        item.conflict = getattr(item.form, "conflict", None)
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
    if request.method != "POST":
        page = _load(request)
        _attach_forms(page)
        return render_page(
            request, "checkins/my_week.html", {"page": page, "week_label": week_label(page.week)}
        )
    only = request.POST.get("only")
    only_ids = {int(only)} if only and only.isascii() and only.isdigit() else None
    # The cards sent stay on the page even if their cycle moved on since (they say why).
    sent = only_ids or _sent(request.POST)
    page = _load(request, also=sent)
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
    lost_races = all(
        hasattr(i.form, "conflict") for i, ok in zip(targets, results, strict=True) if not ok
    )
    page = _refresh(request, page, also=sent)
    return render_page(
        request,
        "checkins/my_week.html",
        {"page": page, "week_label": week_label(page.week)},
        status=409 if lost_races else 400,
    )


def _refresh(request, page, also: Collection[int] = ()):
    """Recompute due/done after partial saves, keeping each form as submitted."""
    fresh = _load(request, also=also)
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
    """Save one KR (htmx from its card; Enter in its fields).

    Saving reads the key result once, locked, in its own transaction; the week is read
    only to draw an answer: for htmx the card and, out of band, the summary above the cards
    (this save may have been the last one due); without JavaScript a redirect, or the whole
    page again after an error."""
    form = CheckInForm(request.POST, prefix=_prefix(kr_id))
    checkin = _check_in(request, form, kr_id) if form.is_valid() else None
    if checkin is not None and not request.htmx:
        title = checkin.key_result.title
        messages.success(request, _("Checked in on “%(kr)s”.") % {"kr": title})
        return redirect("my_week", org_slug=request.org.slug)
    page = _load(request, also={kr_id})
    cards = [i for i in page.key_results if i.kr.pk == kr_id]
    if not cards:
        # Not the person's to check in on from here: another's KR, another organisation's,
        # or under an archived objective (the week's own query is scoped to the organisation).
        raise Http404
    card, conflict = cards[0], getattr(form, "conflict", None)
    if checkin is None:
        if not request.htmx:
            _attach_forms(page)
        card.form, card.saved, card.conflict = form, False, conflict  # as submitted
    else:
        card.form = CheckInForm(
            prefix=_prefix(kr_id), initial={**card.prefill, "revision": card.revision}
        )
        card.saved, card.conflict = True, None
    status = 200 if checkin is not None else (409 if hasattr(form, "conflict") else 400)
    if not request.htmx:
        return render_page(
            request,
            "checkins/my_week.html",
            {"page": page, "week_label": week_label(page.week)},
            status=status,
        )
    return render_page(
        request,
        "checkins/my_week.html",
        {"item": card, "page": page, "week_label": week_label(page.week)},
        partial="kr-answer",
        status=status,
    )
