"""The manager's acknowledgement queue: reports' recent check-ins nobody has seen yet.

The inline form posts to ``checkin_acknowledge`` (conversation.py) with ``next`` pointing
back here with ``?acknowledged=<id>``. Without JavaScript that lands on the queue again; with
htmx the redirect is followed in the background and this view answers with the one row, now
marked as seen, which replaces the row the form was in.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpResponse

from checkins import services
from checkins.models import CheckIn
from cycles.models import Visibility
from okrapp.models import Membership, Organization, TeamMembership
from okrapp.rendering import render_page

WEEKS = 4  # this week and the three before it
PER_PAGE = 50


def reports_of(org: Organization, viewer: Membership) -> QuerySet[Membership]:
    """Active people ``viewer`` manages as a person: direct reports and the members of the
    teams they lead (and of the teams below those). An admin's blanket right to act is not
    a list of reports."""
    people = Q(manager=viewer)
    if viewer.managed_team_ids:
        people |= Q(
            pk__in=TeamMembership.objects.for_org(org)
            .filter(team_id__in=viewer.managed_team_ids)
            .values("membership_id")
        )
    return Membership.objects.for_org(org).active().filter(people).exclude(pk=viewer.pk)


def _queue_checkins(org: Organization, viewer: Membership) -> QuerySet[CheckIn]:
    """Check-ins of the viewer's reports that the viewer may read, each with the previous
    check-in's confidence and value of the same key result (one query for the lot)."""
    previous = (
        CheckIn.objects.for_org(org)
        .filter(key_result=OuterRef("key_result"), week__lt=OuterRef("week"))
        .order_by("-week")
    )
    checkins = (
        CheckIn.objects.for_org(org)
        .filter(owner__in=reports_of(org, viewer).values("pk"))
        .select_related("key_result__objective", "owner__user", "recorded_by__user")
        .annotate(
            previous_confidence=Subquery(previous.values("confidence")[:1]),
            previous_value=Subquery(previous.values("value")[:1]),
        )
    )
    if not viewer.is_admin:
        # A private objective stays private, even from a person's direct manager.
        checkins = checkins.filter(
            Q(key_result__objective__visibility=Visibility.PUBLIC)
            | Q(key_result__objective__owner=viewer)
            | Q(key_result__objective__team_id__in=viewer.managed_team_ids)
        )
    return checkins


def _decorate(checkin: CheckIn) -> CheckIn:
    if checkin.previous_confidence is None:
        checkin.confidence_change = None
    else:
        checkin.confidence_change = checkin.confidence - checkin.previous_confidence
    checkin.confidence_drop = -(checkin.confidence_change or 0)
    return checkin


def ack_queue(request, org_slug):
    done = request.GET.get("acknowledged", "")
    if request.htmx and done:
        _require_reports(request)
        return _acknowledged_row(request, done)
    return queue_page(request)


def _require_reports(request) -> None:
    org, viewer = request.org, request.membership
    if not viewer.is_manager and not reports_of(org, viewer).exists():
        raise PermissionDenied


def queue_page(request, *, refused=None, status: int = 200):
    """The queue; ``refused``: an acknowledgement refused (``conversation.Refused``), its
    row's form showing the reply as typed and why."""
    _require_reports(request)
    org, viewer = request.org, request.membership
    since = services.current_week(org) - timedelta(weeks=WEEKS - 1)
    waiting = (
        _queue_checkins(org, viewer)
        .filter(week__gte=since, acknowledgement__isnull=True)
        .order_by("-need_help", "-week", "confidence", "-updated_at", "-id")
    )
    page = Paginator(waiting, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "checkins": [_decorate(c) for c in page.object_list],
        "since": since,
        "weeks": WEEKS,
        "refused": refused,
    }
    return render_page(request, "checkins/ack_queue.html", context, status=status)


def _acknowledged_row(request, checkin_id: str):
    """The row of a check-in just acknowledged from the queue (htmx, after the redirect)."""
    if not checkin_id.isdigit():
        raise Http404
    checkin = (
        _queue_checkins(request.org, request.membership)
        .select_related("acknowledgement__by__user")
        .filter(pk=int(checkin_id))
        .first()
    )
    if checkin is None:
        raise Http404
    # The "Acknowledged." flash was said by the row itself; it must not greet the next page.
    list(messages.get_messages(request))
    return render_page(
        request,
        "checkins/ack_queue.html",
        {"c": _decorate(checkin), "just_acknowledged": True},
        partial="ack-row",
    )


def row_refused(request, refused) -> HttpResponse | None:
    """The queue's row of a check-in whose acknowledgement was refused (htmx, 400): its
    form again with the reply as typed and why. ``None``: the check-in is not in the
    viewer's queue, so the form was not sent from it."""
    checkin = _queue_checkins(request.org, request.membership).filter(pk=refused.pk).first()
    if checkin is None:
        return None
    return render_page(
        request,
        "checkins/ack_queue.html",
        {"c": _decorate(checkin), "refused": refused},
        partial="ack-row",
        status=400,
    )
