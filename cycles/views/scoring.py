"""End-of-quarter self-scoring: the owner scores their key results, their managers read the
scores and comment.

``my_scoring`` lists the signed-in person's key results of one cycle with a form each; one
POST saves them all (or only the one whose button was pressed), and each row also saves on
its own through htmx. ``team_scoring`` shows the scores of the people the viewer manages
(direct reports, the people of the teams they lead, everyone for an admin) with a comment
form per score. Both read in a constant number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from cycles import permissions, scoring, services
from cycles.forms import ScoreCommentForm, ScoreForm
from cycles.models import (
    Cycle,
    CycleState,
    KeyResult,
    KeyResultScore,
    Objective,
    ObjectiveStatus,
)
from cycles.views.common import get_cycle, get_readable_key_result, load_cycles
from okrapp.forms import apply_service_errors
from okrapp.models import Membership, Organization
from okrapp.rendering import render_page

MY_TEMPLATE = "cycles/scoring.html"
TEAM_TEMPLATE = "cycles/scoring_team.html"


def not_scoring_message(cycle: Cycle) -> str:
    # The same words as the service's refusal (cycles.services.score_submit).
    return _("%(cycle)s is not in scoring; scores are given while it is.") % {"cycle": cycle.name}


def score_of(kr: KeyResult) -> KeyResultScore | None:
    """The KR's score loaded with ``select_related("score")``, or None when not scored."""
    try:
        return kr.score
    except ObjectDoesNotExist:
        return None


def _scoring_rows(queryset):
    return queryset.exclude(objective__status=ObjectiveStatus.ARCHIVED).select_related(
        "objective", "owner__user", "score__reviewed_by__user"
    )


# --- The owner's page ---------------------------------------------------------------------------


@dataclass
class ScoreItem:
    kr: KeyResult
    record: KeyResultScore | None
    form: ScoreForm | None = None
    saved: bool = False

    @property
    def suggested(self) -> Decimal:
        return scoring.suggested_score(self.kr.progress)

    @property
    def suggested_band(self) -> str:
        return scoring.score_band(self.suggested).value

    @property
    def committed(self) -> bool:
        return self.kr.objective.is_committed

    @property
    def expected(self) -> Decimal:
        return scoring.expected_score(self.committed)

    @property
    def met(self) -> bool | None:
        if self.record is None:
            return None
        return scoring.met_expectation(self.record.score, self.committed)

    def new_form(self, data=None) -> ScoreForm:
        return ScoreForm(
            data,
            prefix=f"kr{self.kr.pk}",
            initial=ScoreForm.initial_for(self.record, self.suggested),
        )


@dataclass
class ObjectiveGroup:
    objective: Objective
    items: list[ScoreItem] = field(default_factory=list)


@dataclass
class ScoringPage:
    cycle: Cycle
    items: list[ScoreItem]

    @property
    def groups(self) -> list[ObjectiveGroup]:
        groups: dict[int, ObjectiveGroup] = {}
        for item in self.items:
            objective = item.kr.objective
            groups.setdefault(objective.pk, ObjectiveGroup(objective)).items.append(item)
        return list(groups.values())

    @property
    def is_open(self) -> bool:
        return self.cycle.state == CycleState.SCORING

    @property
    def is_closed(self) -> bool:
        return self.cycle.state == CycleState.CLOSED

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def scored(self) -> int:
        return sum(1 for item in self.items if item.record is not None)

    @property
    def unscored(self) -> list[ScoreItem]:
        return [item for item in self.items if item.record is None]

    @property
    def done(self) -> bool:
        return bool(self.items) and not self.unscored


def _load(request, cycle: Cycle) -> ScoringPage:
    """The viewer's key results of ``cycle`` with their scores (one query)."""
    krs = _scoring_rows(
        KeyResult.objects.for_org(request.org).in_cycle(cycle).filter(owner=request.membership)
    ).order_by("objective__level", Lower("objective__title"), "objective_id", "position", "id")
    return ScoringPage(cycle=cycle, items=[ScoreItem(kr, score_of(kr)) for kr in krs])


def _attach_forms(page: ScoringPage, data=None, only: set[int] | None = None) -> None:
    if not page.is_open:
        return
    for item in page.items:
        bound = data is not None and (only is None or item.kr.pk in only)
        item.form = item.new_form(data if bound else None)


def _save(request, item: ScoreItem) -> bool:
    """Save one key result's form; errors land on the form. True when nothing is left to fix."""
    form = item.form
    if not form.is_valid():
        return False
    if item.record is not None and not form.has_changed():
        return True  # "Save all" does not re-save what nobody touched
    data = form.cleaned_data
    try:
        item.record = services.score_submit(
            org=request.org,
            by=request.membership,
            key_result=item.kr,
            score=data["score"],
            what_worked=data["what_worked"],
            what_to_change=data["what_to_change"],
            reason=data["reason"],
        )
    except ValidationError as exc:
        apply_service_errors(form, exc)
        return False
    item.saved = True
    item.form = item.new_form()
    return True


def _page_response(request, page: ScoringPage, *, error: str | None = None, status: int = 200):
    context = {
        "cycle": page.cycle,
        "cycles": load_cycles(request.org),
        "page": page,
        "error": error,
        "manages_anyone": manages_anyone(request.org, request.membership),
    }
    return render_page(request, MY_TEMPLATE, context, status=status)


def _my_url(org: Organization, cycle: Cycle, kr_id: int | None = None) -> str:
    url = reverse("my_scoring", kwargs={"org_slug": org.slug, "cycle_id": cycle.pk})
    return f"{url}#kr-{kr_id}" if kr_id else url


def my_scoring(request, org_slug, cycle_id):
    """GET the page; POST saves every key result on it, or only ``only`` (no JavaScript)."""
    cycle = get_cycle(request, cycle_id)
    page = _load(request, cycle)
    if request.method != "POST":
        _attach_forms(page)
        return _page_response(request, page)
    if not page.is_open:
        return _page_response(request, page, error=not_scoring_message(cycle), status=400)
    only = request.POST.get("only", "")
    only_ids = {int(only)} if only.isdigit() else None
    _attach_forms(page, request.POST, only_ids)
    targets = [item for item in page.items if only_ids is None or item.kr.pk in only_ids]
    if not targets:
        raise Http404("No such key result on this page.")
    results = [_save(request, item) for item in targets]
    saved = sum(1 for item in targets if item.saved)
    if all(results):
        if saved:
            messages.success(
                request,
                ngettext("Saved %(n)s score.", "Saved %(n)s scores.", saved) % {"n": saved},
            )
        else:
            messages.info(request, _("Nothing changed; your scores are saved."))
        return redirect(_my_url(request.org, cycle, only_ids and next(iter(only_ids))))
    if saved:
        messages.success(
            request,
            ngettext(
                "%(n)s score saved; fix the marked ones below.",
                "%(n)s scores saved; fix the marked ones below.",
                saved,
            )
            % {"n": saved},
        )
    return _page_response(request, page, status=400)


@require_POST
def my_scoring_save(request, org_slug, cycle_id, kr_id):
    """Save one key result's score (htmx from its row; works as a plain POST too)."""
    cycle = get_cycle(request, cycle_id)
    kr = get_readable_key_result(request, kr_id)
    if kr.objective.cycle_id != cycle.pk or kr.objective.status == ObjectiveStatus.ARCHIVED:
        raise Http404("No such key result in this cycle.")
    if kr.owner_id != request.membership.pk:
        raise PermissionDenied(_("Only the key result's owner scores it here."))
    page = _load(request, cycle)
    item = next((item for item in page.items if item.kr.pk == kr.pk), None)
    if item is None:
        raise Http404("No such key result in this cycle.")
    if not page.is_open:
        if not request.htmx:
            return _page_response(request, page, error=not_scoring_message(cycle), status=400)
        return _row_response(request, page, item, error=not_scoring_message(cycle), status=400)
    _attach_forms(page, request.POST, {kr.pk})
    ok = _save(request, item)
    if not request.htmx:
        if ok:
            messages.success(request, _("Score of “%(kr)s” saved.") % {"kr": kr.title})
            return redirect(_my_url(request.org, cycle, kr.pk))
        return _page_response(request, page, status=400)
    return _row_response(request, page, item, status=200 if ok else 400)


def _row_response(request, page, item, *, error=None, status=200):
    """The key result's row and, out of band, the "n of m scored" summary it may change."""
    context = {"cycle": page.cycle, "page": page, "item": item, "error": error, "oob": True}
    html = render_to_string(f"{MY_TEMPLATE}#score-row", context, request=request)
    if page.is_open:
        html += render_to_string(f"{MY_TEMPLATE}#score-summary", context, request=request)
    return HttpResponse(html, status=status)


# --- Managers: the team's scores ----------------------------------------------------------------


def manages_anyone(org: Organization, viewer: Membership) -> bool:
    """Admins, team leads, and anyone who is someone's manager (one query at most)."""
    if viewer.is_admin:
        return True
    return (
        Membership.objects.for_org(org)
        .filter(Q(pk=viewer.pk, team_memberships__is_lead=True) | Q(manager=viewer, active=True))
        .exists()
    )


def managed_people(org: Organization, viewer: Membership):
    """The active people whose scores ``viewer`` reviews: everyone for an admin, else their
    direct reports and the people of the teams they lead (and the teams below)."""
    people = Membership.objects.for_org(org).active().exclude(pk=viewer.pk)
    if viewer.is_admin:
        return people
    return people.filter(
        Q(manager=viewer) | Q(team_memberships__team_id__in=viewer.managed_team_ids)
    )


@dataclass
class TeamItem:
    kr: KeyResult
    record: KeyResultScore | None
    readable: bool
    form: ScoreCommentForm | None = None
    note: str | None = None

    @property
    def committed(self) -> bool:
        return self.kr.objective.is_committed

    @property
    def expected(self) -> Decimal:
        return scoring.expected_score(self.committed)

    @property
    def suggested(self) -> Decimal:
        return scoring.suggested_score(self.kr.progress)

    @property
    def met(self) -> bool | None:
        if self.record is None:
            return None
        return scoring.met_expectation(self.record.score, self.committed)


@dataclass
class PersonScores:
    person: Membership
    items: list[TeamItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def scored(self) -> int:
        return sum(1 for item in self.items if item.record is not None)

    @property
    def done(self) -> bool:
        return self.scored == self.total


def comment_form(kr: KeyResult, record: KeyResultScore | None, data=None) -> ScoreCommentForm:
    # One form per score on the page: ids stay unique, the field name stays plain.
    initial = {"comment": record.manager_comment} if record is not None else {}
    return ScoreCommentForm(data, auto_id=f"id_comment_{kr.pk}_%s", initial=initial)


def _may_comment(cycle: Cycle) -> bool:
    return cycle.state in (CycleState.SCORING, CycleState.CLOSED)


def _team_item(viewer: Membership, cycle: Cycle, kr: KeyResult, form=None, note=None) -> TeamItem:
    record = score_of(kr)
    # A direct manager who does not lead the team of a report's private objective does not
    # read it; its row is blanked (as private objectives are everywhere).
    readable = permissions.can_read_objective(viewer, kr.objective)
    item = TeamItem(kr=kr, record=record, readable=readable, note=note)
    if readable and record is not None and _may_comment(cycle):
        item.form = form or comment_form(kr, record)
    return item


def _team_load(request, cycle: Cycle, forms: dict | None = None) -> list[PersonScores]:
    """The managed people's key results of ``cycle`` with their scores, per person (one
    query, after the viewer's managed teams)."""
    org, viewer = request.org, request.membership
    forms = forms or {}
    krs = _scoring_rows(
        KeyResult.objects.for_org(org)
        .in_cycle(cycle)
        .filter(owner__in=managed_people(org, viewer).values("pk"))
    ).order_by(
        Lower("owner__user__full_name"),
        "owner__user__email",
        "owner_id",
        "objective__level",
        Lower("objective__title"),
        "objective_id",
        "position",
        "id",
    )
    people: dict[int, PersonScores] = {}
    for kr in krs:
        person = people.setdefault(kr.owner_id, PersonScores(kr.owner))
        person.items.append(_team_item(viewer, cycle, kr, forms.get(kr.pk)))
    return list(people.values())


def _team_page(request, cycle: Cycle, *, forms=None, status=200):
    people = _team_load(request, cycle, forms)
    context = {
        "cycle": cycle,
        "cycles": load_cycles(request.org),
        "people": people,
        "scoring_started": cycle.state in (CycleState.SCORING, CycleState.CLOSED),
        "total": sum(p.total for p in people),
        "scored": sum(p.scored for p in people),
        "waiting": [p for p in people if not p.done],
        "done_people": sum(1 for p in people if p.done),
    }
    return render_page(request, TEAM_TEMPLATE, context, status=status)


def team_scoring(request, org_slug, cycle_id):
    cycle = get_cycle(request, cycle_id)
    if not manages_anyone(request.org, request.membership):
        raise PermissionDenied(_("Team scores are for managers."))
    return _team_page(request, cycle)


@require_POST
def team_scoring_comment(request, org_slug, cycle_id, kr_id):
    """A manager comments on a report's score (htmx swaps the row; works without JavaScript)."""
    org, viewer = request.org, request.membership
    cycle = get_cycle(request, cycle_id)
    kr = get_readable_key_result(request, kr_id)
    if kr.objective.cycle_id != cycle.pk:
        raise Http404("No such key result in this cycle.")
    owner = kr.owner
    if owner.pk == viewer.pk or not (
        viewer.is_admin
        or permissions.manages_person(viewer, owner.pk, owner.manager_id, owner.team_ids)
    ):
        raise PermissionDenied(_("Only the owner's manager reviews their scores."))
    record = get_object_or_404(KeyResultScore.objects.for_org(org), key_result=kr)
    form = comment_form(kr, record, request.POST)
    if form.is_valid():
        try:
            services.score_review(
                org=org, by=viewer, score=record, comment=form.cleaned_data["comment"]
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            note = _("Comment sent to %(name)s.") % {"name": owner.display_name}
            if not request.htmx:
                messages.success(request, note)
                url = reverse("team_scoring", kwargs={"org_slug": org.slug, "cycle_id": cycle.pk})
                return redirect(f"{url}#score-{kr.pk}")
            return _team_row(request, cycle, kr, note=note)
    if not request.htmx:
        return _team_page(request, cycle, forms={kr.pk: form}, status=400)
    return _team_row(request, cycle, kr, form=form, status=400)


def _team_row(request, cycle, kr, *, form=None, note=None, status=200):
    kr = get_object_or_404(_scoring_rows(KeyResult.objects.for_org(request.org)), pk=kr.pk)
    item = _team_item(request.membership, cycle, kr, form, note)
    return render_page(
        request,
        TEAM_TEMPLATE,
        {"cycle": cycle, "item": item},
        partial="score-review",
        status=status,
    )


# --- What other pages show about scoring ----------------------------------------------------------


def cycle_scoring_context(request, cycle: Cycle) -> dict:
    """The cycle page's call to score and link to team scores: nothing (and no query) unless
    the cycle is in scoring or closed; then two."""
    if cycle.state not in (CycleState.SCORING, CycleState.CLOSED):
        return {}
    org, viewer = request.org, request.membership
    mine = _scoring_rows(
        KeyResult.objects.for_org(org).in_cycle(cycle).filter(owner=viewer)
    ).aggregate(total=Count("id"), scored=Count("score"))
    return {
        "scoring": {
            "open": cycle.state == CycleState.SCORING,
            "total": mine["total"],
            "scored": mine["scored"],
            "team": manages_anyone(org, viewer),
        }
    }


def key_result_score(request, kr: KeyResult) -> dict:
    """The KR page's score card: the saved score and reflection (one query), whether the
    viewer may score it now, and whether they see the manager's comment."""
    viewer = request.membership
    record = (
        KeyResultScore.objects.for_org(request.org)
        .filter(key_result=kr)
        .select_related("reviewed_by__user")
        .first()
    )
    cycle = kr.objective.cycle
    context = {
        "score": record,
        "may_score": cycle.state == CycleState.SCORING and kr.owner_id == viewer.pk,
    }
    if record is not None:
        context["score_met"] = scoring.met_expectation(record.score, kr.objective.is_committed)
        context["score_expected"] = scoring.expected_score(kr.objective.is_committed)
        context["score_comment_visible"] = bool(record.manager_comment) and (
            kr.owner_id == viewer.pk or permissions.can_edit_key_result(viewer, kr)
        )
    return context
