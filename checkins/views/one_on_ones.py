"""One-on-ones: a page per manager-report pair, its meetings, notes and action items.

Only the two people of a pair see it: anyone else (admins included) gets 404, as if the
pair did not exist. The manager's private notes are shown to the manager only. A pair is
addressed by the *other* person's membership id, so the same URL shape serves both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max, Min, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from checkins import services
from checkins.forms import ActionItemForm, MeetingForm, MeetingNotesForm, RhythmForm
from checkins.models import ActionItem, AgendaItem, Meeting, OneOnOne, Rhythm, week_start
from checkins.views.acknowledgements import reports_of
from cycles import permissions
from cycles.models import Objective, Visibility
from okrapp.forms import apply_service_errors
from okrapp.models import Membership, Organization
from okrapp.rendering import render_page

RHYTHM_DAYS = {Rhythm.WEEKLY: 7, Rhythm.BIWEEKLY: 14, Rhythm.MONTHLY: 30}


def _today(org: Organization) -> date:
    return timezone.localtime(timezone.now(), org.zoneinfo).date()


def is_report_of(manager: Membership, person: Membership) -> bool:
    """``manager`` manages ``person`` as a person (directly or as a lead of their team);
    unlike ``services.manages`` an admin's blanket right does not make a pair."""
    return permissions.manages_person(manager, person.pk, person.manager_id, person.team_ids)


@dataclass
class Pair:
    """A manager-report pair as one of its two people sees it."""

    manager: Membership
    report: Membership
    viewer_is_manager: bool
    one_on_one: OneOnOne | None = None
    last: date | None = None  # latest meeting on or before today
    upcoming: date | None = None  # earliest meeting after today
    meeting_count: int = 0
    current: bool = True  # the two still stand in this relation (not just history)

    @property
    def other(self) -> Membership:
        return self.report if self.viewer_is_manager else self.manager

    @property
    def rhythm(self) -> str:
        return self.one_on_one.rhythm if self.one_on_one else Rhythm.WEEKLY

    @property
    def rhythm_label(self) -> str:
        return Rhythm(self.rhythm).label

    @property
    def suggested(self) -> date | None:
        """When the next meeting is due by the rhythm (None before the first)."""
        if self.last is None:
            return None
        return self.last + timedelta(days=RHYTHM_DAYS[Rhythm(self.rhythm)])

    def overdue(self, today: date) -> bool:
        return self.upcoming is None and self.suggested is not None and self.suggested < today


def _with_dates(pairs, today: date):
    return pairs.annotate(
        last=Max("meetings__date", filter=Q(meetings__date__lte=today)),
        upcoming=Min("meetings__date", filter=Q(meetings__date__gt=today)),
        meeting_count=Count("meetings"),
    )


def _pair(one_on_one: OneOnOne, viewer: Membership, current: bool = True) -> Pair:
    return Pair(
        manager=one_on_one.manager,
        report=one_on_one.report,
        viewer_is_manager=one_on_one.manager_id == viewer.pk,
        one_on_one=one_on_one,
        last=getattr(one_on_one, "last", None),
        upcoming=getattr(one_on_one, "upcoming", None),
        meeting_count=getattr(one_on_one, "meeting_count", 0),
        current=current,
    )


# --- The list ---------------------------------------------------------------------------------


def one_on_one_list(request, org_slug):
    """For managers: a row per report; for everyone: the pair with their own manager."""
    org, viewer = request.org, request.membership
    today = _today(org)
    existing = {
        (p.manager_id, p.report_id): p
        for p in _with_dates(
            OneOnOne.objects.for_org(org)
            .filter(Q(manager=viewer) | Q(report=viewer))
            .select_related("manager__user", "report__user"),
            today,
        )
    }
    reports = list(reports_of(org, viewer).select_related("user").ordered())
    as_manager = []
    for person in reports:
        found = existing.pop((viewer.pk, person.pk), None)
        as_manager.append(
            _pair(found, viewer)
            if found
            else Pair(manager=viewer, report=person, viewer_is_manager=True)
        )
    my_manager = None
    if viewer.manager_id:
        my_manager = (
            Membership.objects.for_org(org)
            .active()
            .select_related("user")
            .filter(pk=viewer.manager_id)
            .first()
        )
    as_report = []
    if my_manager is not None:
        found = existing.pop((my_manager.pk, viewer.pk), None)
        as_report.append(
            _pair(found, viewer)
            if found
            else Pair(manager=my_manager, report=viewer, viewer_is_manager=False)
        )
    # Pairs with a team lead, and earlier pairs whose meetings are still worth reading.
    for (manager_id, _report_id), found in sorted(existing.items(), key=lambda kv: kv[1].pk):
        (as_manager if manager_id == viewer.pk else as_report).append(_pair(found, viewer))
    for pair in as_manager + as_report:
        pair.is_overdue = pair.overdue(today)
    return render_page(
        request,
        "checkins/one_on_one_list.html",
        {"as_manager": as_manager, "as_report": as_report, "today": today},
    )


# --- One pair ----------------------------------------------------------------------------------


def _resolve_pair(request, membership_id: int) -> Pair:
    """The viewer's pair with the person ``membership_id``; 404 for anyone not in it."""
    org, viewer = request.org, request.membership
    other = get_object_or_404(
        Membership.objects.for_org(org).select_related("user"), pk=membership_id
    )
    if other.pk == viewer.pk:
        raise Http404("No such one-on-one.")
    found = {
        (p.manager_id, p.report_id): p
        for p in _with_dates(
            OneOnOne.objects.for_org(org).filter(
                Q(manager=viewer, report=other) | Q(manager=other, report=viewer)
            ),
            _today(org),
        )
    }
    for (manager_id, _report_id), one_on_one in found.items():
        one_on_one.manager, one_on_one.report = (
            (viewer, other) if manager_id == viewer.pk else (other, viewer)
        )
    if (viewer.pk, other.pk) in found:
        current = other.active and is_report_of(viewer, other)
        return _pair(found[viewer.pk, other.pk], viewer, current=current)
    if (other.pk, viewer.pk) in found:
        current = other.active and is_report_of(other, viewer)
        return _pair(found[other.pk, viewer.pk], viewer, current=current)
    if other.active and is_report_of(viewer, other):
        return Pair(manager=viewer, report=other, viewer_is_manager=True)
    if other.active and is_report_of(other, viewer):
        return Pair(manager=other, report=viewer, viewer_is_manager=False)
    raise Http404("No such one-on-one.")


def _hidden_objectives(org: Organization, viewer: Membership, objective_ids: set[int]) -> set:
    """Of these objectives, the private ones the viewer may not read (one query)."""
    if viewer.is_admin or not objective_ids:
        return set()
    private = Objective.objects.for_org(org).filter(
        pk__in=objective_ids, visibility=Visibility.PRIVATE
    )
    return {
        pk
        for pk, owner_id, team_id in private.values_list("pk", "owner_id", "team_id")
        if owner_id != viewer.pk and team_id not in viewer.managed_team_ids
    }


def _mark_agenda(org, viewer, lines) -> None:
    """``line.hidden`` for agenda lines about a key result the viewer may not read: its
    title is in the line's text, so the line is shown blanked."""
    checkins = [line.checkin for line in lines if line.checkin is not None]
    hidden = _hidden_objectives(org, viewer, {c.key_result.objective_id for c in checkins})
    for line in lines:
        line.hidden = line.checkin is not None and line.checkin.key_result.objective_id in hidden


@dataclass
class PreviewLine:
    """A line of the next meeting's agenda, shown like a saved ``AgendaItem``."""

    text: str
    checkin: object = None
    action_item: object = None

    @property
    def action_item_id(self) -> int | None:
        return self.action_item.pk if self.action_item else None


def _meetings(
    org: Organization, one_on_one: OneOnOne | None, pk: int | None = None
) -> list[Meeting]:
    if one_on_one is None:
        return []
    meetings = Meeting.objects.for_org(org).filter(one_on_one=one_on_one)
    if pk is not None:
        meetings = meetings.filter(pk=pk)
    return list(
        meetings.prefetch_related(
            Prefetch(
                "agenda",
                queryset=AgendaItem.objects.for_org(org).select_related("checkin__key_result"),
            ),
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.for_org(org).select_related("owner__user"),
            ),
        )
    )


def _notes_form(pair: Pair, meeting: Meeting, data=None) -> MeetingNotesForm:
    form = MeetingNotesForm(
        data,
        auto_id=f"id_meeting{meeting.pk}_%s",
        initial={"shared_notes": meeting.shared_notes, "private_notes": meeting.private_notes},
    )
    if not pair.viewer_is_manager:
        del form.fields["private_notes"]  # the report never receives them, not even hidden
    return form


def _action_form(pair: Pair, meeting: Meeting, data=None) -> ActionItemForm:
    return ActionItemForm(
        data, people=[pair.manager, pair.report], auto_id=f"id_meeting{meeting.pk}_action_%s"
    )


def _detail(request, pair: Pair, *, forms=None, status: int = 200):
    """The pair's page. ``forms`` replaces some forms with bound ones (refused input)."""
    org, viewer = request.org, request.membership
    forms = forms or {}
    today = _today(org)
    meetings = _meetings(org, pair.one_on_one)
    agenda = [line for m in meetings for line in m.agenda.all()]
    preview = []
    if pair.current and pair.one_on_one is not None:
        # What the next meeting's agenda will hold, were it created now.
        since = week_start(meetings[0].date) if meetings else None
        preview = [
            PreviewLine(
                text=str(line["text"]),
                checkin=line.get("checkin"),
                action_item=line.get("action_item"),
            )
            for line in services.prepare_agenda(org, pair.one_on_one, since)
        ]
    _mark_agenda(org, viewer, agenda + preview)
    for meeting in meetings:
        meeting.notes_form = forms.get(("notes", meeting.pk)) or _notes_form(pair, meeting)
        meeting.action_form = forms.get(("action", meeting.pk)) or _action_form(pair, meeting)
    suggested = pair.suggested
    opened = request.GET.get("open", "")
    refused = [key[1] for key in forms if isinstance(key, tuple)]
    context = {
        "open_meeting": refused[0] if refused else int(opened) if opened.isdigit() else None,
        "pair": pair,
        "other": pair.other,
        "meetings": meetings,
        "preview": preview,
        "today": today,
        "is_overdue": pair.overdue(today),
        "rhythm_form": forms.get("rhythm") or RhythmForm(initial={"rhythm": pair.rhythm}),
        "meeting_form": forms.get("meeting")
        or MeetingForm(initial={"date": max(suggested, today) if suggested else today}),
    }
    return render_page(request, "checkins/one_on_one_detail.html", context, status=status)


def one_on_one_detail(request, org_slug, membership_id):
    return _detail(request, _resolve_pair(request, membership_id))


def _url(request, pair: Pair, anchor: str = "", open_meeting: int | None = None) -> str:
    """The pair's page; ``open_meeting`` unfolds an earlier meeting (after a save there)."""
    url = reverse("one_on_one_detail", args=[request.org.slug, pair.other.pk])
    if open_meeting is not None:
        url += f"?open={open_meeting}"
    return f"{url}#{anchor}" if anchor else url


def _open(request, pair: Pair, rhythm: str | None = None) -> OneOnOne:
    """The pair's row, created on its first write."""
    if not pair.current:
        raise PermissionDenied(_("You no longer work together as manager and report."))
    return services.one_on_one_get_or_create(
        org=request.org,
        by=request.membership,
        manager=pair.manager,
        report=pair.report,
        rhythm=rhythm,
    )


@require_POST
def one_on_one_rhythm(request, org_slug, membership_id):
    pair = _resolve_pair(request, membership_id)
    if not pair.viewer_is_manager:
        raise PermissionDenied
    form = RhythmForm(request.POST)
    if form.is_valid():
        try:
            pair.one_on_one = _open(request, pair, rhythm=form.cleaned_data["rhythm"])
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("You now meet %(name)s: %(rhythm)s.")
                % {"name": pair.report.display_name, "rhythm": pair.rhythm_label.lower()},
            )
            return redirect(_url(request, pair))
    messages.error(request, _("The rhythm was not changed; choose one of the options."))
    return _detail(request, pair, forms={"rhythm": form}, status=400)


@require_POST
def one_on_one_meeting_create(request, org_slug, membership_id):
    pair = _resolve_pair(request, membership_id)
    form = MeetingForm(request.POST)
    if form.is_valid():
        try:
            one_on_one = _open(request, pair)
            meeting = services.meeting_create(
                org=request.org,
                by=request.membership,
                pair=one_on_one,
                on=form.cleaned_data["date"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Meeting on %(date)s added, with its agenda.")
                % {"date": date_format(meeting.date, "DATE_FORMAT")},
            )
            pair.one_on_one = one_on_one
            return redirect(_url(request, pair, f"meeting-{meeting.pk}"))
    messages.error(request, _("The meeting was not added; see the marked field."))
    return _detail(request, pair, forms={"meeting": form}, status=400)


def _participant_meeting(request, meeting_id: int) -> tuple[Meeting, Pair]:
    meeting = get_object_or_404(
        Meeting.objects.for_org(request.org).select_related(
            "one_on_one__manager__user", "one_on_one__report__user"
        ),
        pk=meeting_id,
    )
    return meeting, _participant_pair(request, meeting.one_on_one)


def _participant_pair(request, one_on_one: OneOnOne) -> Pair:
    viewer = request.membership
    if viewer.pk not in (one_on_one.manager_id, one_on_one.report_id):
        raise Http404("No such meeting.")  # not even admins: these are two people's notes
    return _resolve_pair(
        request,
        one_on_one.report_id if one_on_one.manager_id == viewer.pk else one_on_one.manager_id,
    )


@require_POST
def meeting_notes(request, org_slug, meeting_id):
    meeting, pair = _participant_meeting(request, meeting_id)
    form = _notes_form(pair, meeting, request.POST)
    if form.is_valid():
        private = None
        if pair.viewer_is_manager:
            private = form.cleaned_data["private_notes"]
        elif "private_notes" in request.POST:
            private = request.POST["private_notes"]  # refused by the service: 403
        services.meeting_update_notes(
            org=request.org,
            by=request.membership,
            meeting=meeting,
            shared_notes=form.cleaned_data["shared_notes"],
            private_notes=private,
        )
        if request.htmx:
            meeting.notes_form = _notes_form(pair, meeting)
            return render_page(
                request,
                "checkins/one_on_one_detail.html",
                {"pair": pair, "meeting": meeting, "notes_saved": True},
                partial="meeting-notes",
            )
        messages.success(request, _("Notes saved."))
        return redirect(_url(request, pair, f"meeting-{meeting.pk}", meeting.pk))
    if request.htmx:
        meeting.notes_form = form
        return render_page(
            request,
            "checkins/one_on_one_detail.html",
            {"pair": pair, "meeting": meeting},
            partial="meeting-notes",
            status=400,
        )
    messages.error(request, _("The notes were not saved; see the marked field."))
    return _detail(request, pair, forms={("notes", meeting.pk): form}, status=400)


def _action_items_response(request, pair: Pair, meeting_id: int, form=None, status=200):
    (meeting,) = _meetings(request.org, pair.one_on_one, meeting_id)
    meeting.action_form = form or _action_form(pair, meeting)
    return render_page(
        request,
        "checkins/one_on_one_detail.html",
        {"pair": pair, "meeting": meeting},
        partial="action-items",
        status=status,
    )


@require_POST
def meeting_action_item_add(request, org_slug, meeting_id):
    meeting, pair = _participant_meeting(request, meeting_id)
    form = _action_form(pair, meeting, request.POST)
    if form.is_valid():
        try:
            services.action_item_add(
                org=request.org,
                by=request.membership,
                meeting=meeting,
                text=form.cleaned_data["text"],
                owner=form.cleaned_data["owner"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if request.htmx:
                return _action_items_response(request, pair, meeting.pk)
            messages.success(request, _("Action added."))
            return redirect(_url(request, pair, f"actions-{meeting.pk}", meeting.pk))
    if request.htmx:
        return _action_items_response(request, pair, meeting.pk, form, status=400)
    messages.error(request, _("The action was not added; see the marked field."))
    return _detail(request, pair, forms={("action", meeting.pk): form}, status=400)


@require_POST
def action_item_done(request, org_slug, item_id):
    item = get_object_or_404(
        ActionItem.objects.for_org(request.org).select_related(
            "meeting__one_on_one__manager__user",
            "meeting__one_on_one__report__user",
            "owner__user",
        ),
        pk=item_id,
    )
    pair = _participant_pair(request, item.meeting.one_on_one)
    done = request.POST.get("done", "") in ("1", "on", "true")
    services.action_item_set_done(org=request.org, by=request.membership, item=item, done=done)
    if request.htmx:
        return render_page(
            request,
            "checkins/one_on_one_detail.html",
            {"pair": pair, "action": item},
            partial="action-item",
        )
    messages.success(
        request,
        (_("“%(text)s” is done.") if done else _("“%(text)s” is open again."))
        % {"text": item.text},
    )
    return redirect(_url(request, pair, f"action-{item.pk}", item.meeting_id))
