"""The key result page: its figures (from ``cycles``) plus the check-in timeline, the
burn-up, the conversation, and a check-in form for the owner or their manager."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from checkins import selectors, services
from checkins.charts import burnup
from checkins.forms import AcknowledgeForm, CheckInForm, CommentForm
from checkins.models import CheckIn, Comment
from cycles.models import CycleState
from cycles.scoring import plain
from cycles.services import ConflictError
from cycles.views.common import get_readable_key_result
from cycles.views.key_results import key_result_context
from okrapp import cache as page_cache
from okrapp.forms import apply_service_errors
from okrapp.rendering import render_page

#: Earlier revisions listed under a check-in; the rest behind a "show all" link.
REVISIONS_SHOWN = 5


def _timeline(org, kr, *, all_revisions_of: int | None = None) -> list[CheckIn]:
    """The KR's check-ins, newest first, each with its latest earlier revisions (all of
    them for the check-in ``all_revisions_of``) and its comments.

    A check-in revised every day would otherwise list (and read) every version on every
    visit: the history query keeps the newest :data:`REVISIONS_SHOWN` earlier versions
    of each check-in and counts the rest (``earlier_total``).
    """
    checkins = list(
        CheckIn.objects.for_org(org)
        .filter(key_result=kr)
        .select_related("recorded_by__user", "acknowledgement__by__user")
        .order_by("-week")
    )
    revisions = defaultdict(list)
    totals: dict[int, int] = {}
    # The newest history row is the current state; the earlier versions have a lower
    # revision than the check-in's own (a check-in saved once has none: no query then).
    revised = [c.pk for c in checkins if c.revision > 1]
    current_revision = (
        CheckIn.objects.for_org(org).filter(pk=OuterRef("id")).order_by().values("revision")[:1]
    )
    history = (
        CheckIn.history.filter(organization_id=org.pk, id__in=revised)
        .filter(revision__lt=Subquery(current_revision))
        .annotate(
            newest_first=Window(
                RowNumber(), partition_by=F("id"), order_by=F("history_date").desc()
            ),
            earlier_total=Window(Count("*"), partition_by=F("id")),
        )
        .select_related("recorded_by__user")
        .order_by("-history_date")
    )
    if all_revisions_of is None:
        history = history.filter(newest_first__lte=REVISIONS_SHOWN)
    else:
        history = history.filter(Q(newest_first__lte=REVISIONS_SHOWN) | Q(id=all_revisions_of))
    for record in history if revised else []:
        revisions[record.id].append(record)
        totals[record.id] = record.earlier_total
    comments = defaultdict(list)
    for comment in Comment.objects.for_org(org).filter(checkin__in=checkins).with_people():
        comments[comment.checkin_id].append(comment)
    for checkin in checkins:
        checkin.earlier = revisions[checkin.pk]
        checkin.earlier_total = totals.get(checkin.pk, 0)
        checkin.thread = comments[checkin.pk]
    return checkins


def _checkin_id(raw: str | None) -> int | None:
    """A check-in id from the query string; anything else (a typo, a huge number) is
    ignored: the page shows the latest revisions as usual."""
    if raw and raw.isascii() and raw.isdigit() and int(raw) < 2**31:
        return int(raw)
    return None


def kr_page(request, kr, *, checkin_form=None, comment_form=None, refused=None, status=200):
    """The page; the forms given are shown as sent (refused): ``checkin_form`` even when
    check-ins are closed (it says why), ``refused`` one item's form
    (``conversation.Refused``)."""
    org, viewer = request.org, request.membership
    context = key_result_context(request, kr)
    cycle = kr.objective.cycle
    revisions_open = _checkin_id(request.GET.get("revisions"))
    timeline = _timeline(org, kr, all_revisions_of=revisions_open)
    week = services.current_week(org)
    this_week = next((c for c in timeline if c.week == week), None)
    may_check_in = cycle.state == CycleState.ACTIVE and services.can_check_in(viewer, kr)
    if may_check_in and checkin_form is None:
        source = this_week or (timeline[0] if timeline else None)
        checkin_form = CheckInForm(
            initial={
                "value": plain(source.value)
                if source
                else (plain(kr.current_value) if kr.current_value is not None else ""),
                "confidence": source.confidence if source else kr.confidence,
                "note": this_week.note if this_week else "",
                "need_help": this_week.need_help if this_week else False,
                "revision": this_week.revision if this_week else 0,
            }
        )
    # A check-in refused because the cycle is not active comes back with the reason.
    shows_checkin = may_check_in or (checkin_form is not None and checkin_form.is_bound)
    manages_owner = kr.owner_id != viewer.pk and services.manages(viewer, kr.owner)
    context.update(
        {
            "timeline": timeline,
            "revisions_open": revisions_open,
            "this_week": this_week,
            "checkin_form": checkin_form if shows_checkin else None,
            "on_behalf": shows_checkin and kr.owner_id != viewer.pk,
            "ack_form": AcknowledgeForm() if manages_owner else None,
            # Older check-ins are acknowledged from the queue, not from here.
            "ack_since": week - timedelta(weeks=2),
            "comments": list(Comment.objects.for_org(org).filter(key_result=kr).with_people()),
            "comment_form": comment_form or CommentForm(),
            "refused": refused,
            "chart": burnup(
                kr=kr,
                cycle=cycle,
                checkins=timeline,
                today=cycle.today(),
                width=640,
                height=220,
                pad=14,
                chart_id="kr",
                big=True,
            ),
        }
    )
    return render_page(request, "checkins/key_result_detail.html", context, status=status)


@page_cache.per_viewer(
    "key-result",
    scopes=lambda request, kr_id, **_: (page_cache.STRUCTURE, page_cache.key_result(kr_id)),
)
def key_result_detail(request, org_slug, kr_id):
    """The page, kept per viewer until the organisation's structure or the key result's
    activity (check-ins, acknowledgements, comments) changes."""
    return kr_page(request, get_readable_key_result(request, kr_id))


@require_POST
def key_result_checkin(request, org_slug, kr_id):
    """Check in from the KR page: the owner, or a manager on their behalf (attributed)."""
    kr = get_readable_key_result(request, kr_id)
    if not services.can_check_in(request.membership, kr):
        raise PermissionDenied
    form = CheckInForm(request.POST)
    if form.is_valid():
        try:
            services.checkin_record(
                org=request.org, by=request.membership, key_result=kr, **form.recorded()
            )
        except ConflictError as exc:
            # A first check-in that lost to another at the same instant has none to show:
            # the winner's is read now that the service's transaction is over.
            week = services.current_week(request.org)
            form.lost_race(exc, exc.current or selectors.week_checkin(request.org, kr.pk, week))
            return kr_page(request, kr, checkin_form=form, status=409)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Check-in saved."))
            return redirect(kr.get_absolute_url())
    kr.refresh_from_db()
    return kr_page(request, kr, checkin_form=form, status=400)
