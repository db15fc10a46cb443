"""Forms validate the shape of input; the rules live in ``cycles.services``."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cycles.models import (
    VALUE_FIELD,
    Cycle,
    Direction,
    Initiative,
    InitiativeStatus,
    Kind,
    Level,
    Objective,
    ObjectiveStatus,
    ObjectiveType,
    ReasonCode,
    ReviewDecision,
    Visibility,
)
from okrapp.forms import IdChoiceField, IdMultipleChoiceField
from okrapp.models import Membership, Organization, Team, TeamMembership


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def _people(org: Organization, keep: int | None = None):
    """Active members (and ``keep``, the current choice, so a form can say it is inactive)."""
    active = Q(active=True, user__is_active=True)
    if keep is not None:
        active |= Q(pk=keep)
    return Membership.objects.for_org(org).filter(active).with_user().ordered()


def _person_field(field: IdChoiceField) -> None:
    field.label_from_instance = lambda m: m.display_name


class VersionedForm(forms.Form):
    """Edit forms carry the row's version so a save over someone else's change is refused."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)


# --- Cycles ----------------------------------------------------------------------------------


class CycleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    start_date = forms.DateField(label=_("Starts"), widget=DateInput)
    end_date = forms.DateField(label=_("Ends"), widget=DateInput)
    scoring_deadline = forms.DateField(
        label=_("Scoring deadline"),
        required=False,
        widget=DateInput,
        help_text=_(
            "When owners should have scored their key results, after the cycle ends. Scoring "
            "closes by itself once that day is over in the organisation's time zone, and the "
            "quarter's report is built."
        ),
    )
    is_pilot = forms.BooleanField(
        label=_("Pilot with chosen teams only"),
        required=False,
        help_text=_(
            "Everyone sees the OKRs; only the pilot teams get reminders and scoring requests."
        ),
    )
    pilot_teams = IdMultipleChoiceField(
        label=_("Pilot teams"),
        queryset=Team.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pilot_teams"].queryset = Team.objects.for_org(org).order_by("name")

    @classmethod
    def initial_for(cls, cycle: Cycle) -> dict:
        return {
            "name": cycle.name,
            "start_date": cycle.start_date,
            "end_date": cycle.end_date,
            "scoring_deadline": cycle.scoring_deadline,
            "is_pilot": cycle.is_pilot,
            "pilot_teams": [link.team_id for link in cycle.pilot_links.all()],
        }


class GenerateQuartersForm(forms.Form):
    fiscal_year = forms.IntegerField(
        label=_("Fiscal year"), min_value=2000, max_value=2100, widget=forms.NumberInput()
    )


class CarryOverForm(forms.Form):
    from_cycle = IdChoiceField(
        label=_("Copy unfinished key results from"),
        queryset=Cycle.objects.none(),
        empty_label=_("Choose a cycle"),
    )

    def __init__(self, *args, org: Organization, cycle: Cycle, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_cycle"].queryset = (
            Cycle.objects.for_org(org).exclude(pk=cycle.pk).order_by("-start_date")
        )


# --- Objectives ---------------------------------------------------------------------------------


class ObjectiveForm(VersionedForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    why_it_matters = forms.CharField(
        label=_("Why it matters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What gets better for customers, colleagues or the mission when this is met."),
    )
    level = forms.TypedChoiceField(label=_("Level"), choices=Level.choices, coerce=int)
    mission_link = forms.CharField(
        label=_("Part of the mission it serves"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Company objectives say which part of the mission they serve."),
    )
    team = IdChoiceField(
        label=_("Team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("No team"),
        help_text=_("Required for team objectives."),
    )
    owner = IdChoiceField(label=_("Owner"), queryset=Membership.objects.none())
    type = forms.ChoiceField(
        label=_("Type"),
        choices=ObjectiveType.choices,
        help_text=_("Committed OKRs are expected to reach 1.0; aspirational ones about 0.7."),
    )
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=Visibility.choices,
        help_text=_(
            "Private: only the owner, the managers of the objective's team and admins can read it."
        ),
    )
    status = forms.ChoiceField(label=_("Status"), choices=ObjectiveStatus.choices)
    aligned_to = IdMultipleChoiceField(
        label=_("Contributes to"),
        queryset=Objective.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Higher-level objectives of the same cycle this one moves forward "
            "(individual → team → company)."
        ),
    )

    def __init__(
        self,
        *args,
        org: Organization,
        cycle: Cycle,
        viewer: Membership,
        objective: Objective | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_org(org).order_by("name")
        self.fields["owner"].queryset = _people(org, objective.owner_id if objective else None)
        _person_field(self.fields["owner"])
        parents = (
            Objective.objects.for_org(org)
            .in_cycle(cycle)
            .current()
            .filter(level__lt=Level.INDIVIDUAL)
            .visible_to(viewer, viewer.managed_team_ids)
            .select_related("team")
            .order_by("level", "team__name", "title")
        )
        if objective is not None:
            parents = parents.exclude(pk=objective.pk)
        self.fields["aligned_to"].queryset = parents
        self.fields["aligned_to"].label_from_instance = _parent_label
        if objective is None:
            del self.fields["version"]

    @classmethod
    def initial_for(cls, objective: Objective) -> dict:
        return {
            "version": objective.version,
            "title": objective.title,
            "description": objective.description,
            "why_it_matters": objective.why_it_matters,
            "mission_link": objective.mission_link,
            "level": objective.level,
            "team": objective.team_id,
            "owner": objective.owner_id,
            "type": objective.type,
            "visibility": objective.visibility,
            "status": objective.status,
        }


def _parent_label(objective: Objective) -> str:
    if objective.level == Level.COMPANY:
        return f"{Level.COMPANY.label} · {objective.title}"
    return f"{objective.team.name if objective.team else Level.TEAM.label} · {objective.title}"


# --- Key results ---------------------------------------------------------------------------------


def _value_field(label, **extra) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=VALUE_FIELD["max_digits"],
        decimal_places=VALUE_FIELD["decimal_places"],
        widget=forms.NumberInput(attrs={"step": "any"}),
        **extra,
    )


class KeyResultForm(VersionedForm):
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        help_text=_("An outcome with a number: “Grow weekly active workshops from 40 to 90”."),
    )
    owner = IdChoiceField(label=_("Owner"), queryset=Membership.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices)
    currency = forms.CharField(
        label=_("Currency"),
        required=False,
        max_length=3,
        help_text=_("ISO 4217 code, e.g. USD, TWD."),
    )
    # Not sent for a milestone (the page hides it): a milestone moves one way, to done.
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices, required=False)
    start_value = _value_field(_("Start"))
    target_value = _value_field(
        _("Target"), help_text=_("For “stay at least / at most”: the value to stay at.")
    )
    lower_bound = _value_field(_("Lower bound"))
    upper_bound = _value_field(_("Upper bound"))
    current_value = _value_field(
        _("Current"), help_text=_("Leave empty until the first measurement. Milestone: 0 or 1.")
    )
    unit = forms.CharField(label=_("Unit"), required=False, max_length=30)
    weight = forms.DecimalField(
        label=_("Weight"),
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.01"),
        initial=Decimal(1),
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text=_("Its share in the objective's progress; 1 unless it matters more or less."),
    )
    confidence = forms.IntegerField(
        label=_("Confidence"),
        min_value=1,
        max_value=10,
        initial=5,
        help_text=_("1 to 10: how sure the owner is of reaching the target."),
    )

    def __init__(self, *args, org: Organization, key_result=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people(org, key_result.owner_id if key_result else None)
        _person_field(self.fields["owner"])
        if key_result is None:
            del self.fields["version"]

    def clean_direction(self):
        return self.cleaned_data["direction"] or Direction.INCREASE

    @classmethod
    def initial_for(cls, kr) -> dict:
        return {name: _plain(getattr(kr, name)) for name in KEY_RESULT_VALUES} | {
            "owner": kr.owner_id,
            "version": kr.version,
        }


def _plain(value):
    """Stored decimals without their padding zeros: ``85.0000`` shows as ``85``."""
    if not isinstance(value, Decimal):
        return value
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


KEY_RESULT_VALUES = (
    "title", "kind", "currency", "direction", "start_value", "target_value", "lower_bound",
    "upper_bound", "current_value", "unit", "weight", "confidence",
)  # fmt: skip


# --- Initiatives ---------------------------------------------------------------------------------


#: How many people the add-initiative owner list offers before anyone searches.
OWNER_SHORTLIST = 40
#: How many matches a search of the organisation's members answers with.
OWNER_MATCHES = 20


def owner_shortlist(
    org: Organization, *, key_result, viewer: Membership, keep: int | None = None
) -> list[Membership]:
    """The people likely to own an initiative of ``key_result`` (one query): the viewer, the
    key result's and the objective's owners, the objective's team, and whoever owns
    initiatives under the objective's key results; ``keep`` (a current owner) too. An
    organisation of a thousand people is reached through :func:`owner_matches` instead."""
    objective = key_result.objective
    ids = {viewer.pk, key_result.owner_id, objective.owner_id} - {None}
    if keep is not None:
        ids.add(keep)
    # One UNION of ids: an OR of subqueries made the planner read every member.
    # (No ORDER BY inside a compound statement: SQLite refuses it.)
    wanted = Membership.objects.for_org(org).filter(pk__in=ids).order_by().values("id")
    wanted = wanted.union(
        Initiative.objects.for_org(org)
        .filter(key_result__objective_id=objective.pk, owner__isnull=False)
        .order_by()
        .values("owner_id")
    )
    if objective.team_id:
        wanted = wanted.union(
            TeamMembership.objects.for_org(org)
            .filter(team_id=objective.team_id)
            .order_by()
            .values("membership_id")
        )
    people = _people(org, keep).select_related(None).select_related("user")
    return list(people.filter(pk__in=wanted)[:OWNER_SHORTLIST])


def owner_matches(org: Organization, query: str) -> list[Membership]:
    """Active members whose name or email contains ``query`` (one query)."""
    query = query.strip()[:100]
    if not query:
        return []
    return list(
        _people(org)
        .select_related(None)
        .select_related("user")
        .filter(Q(user__full_name__icontains=query) | Q(user__email__icontains=query))[
            :OWNER_MATCHES
        ]
    )


class InitiativeForm(forms.Form):
    """An initiative. Its owner is a member id from the list (a shortlist, which a search
    refills with htmx) or, without JavaScript, someone's email typed in the search box; either
    way the owner must be an active member of the organisation."""

    title = forms.CharField(label=_("Initiative"), max_length=200)
    owner = IdChoiceField(
        label=_("Owner"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("Nobody"),
    )
    owner_email = forms.CharField(
        label=_("Someone else"),
        required=False,
        max_length=254,
        help_text=_("Search anyone by name or email; a whole email picks that person."),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=InitiativeStatus.choices, initial=InitiativeStatus.NOT_STARTED
    )
    backlog_url = forms.URLField(
        label=_("Backlog item"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=_("Link to the story or ticket in the team's backlog."),
    )

    def __init__(self, *args, org: Organization, initiative=None, **kwargs):
        super().__init__(*args, **kwargs)
        keep = initiative.owner_id if initiative else None
        # Any active member validates (a search may name anyone); only a few are listed.
        self.fields["owner"].queryset = _people(org, keep)
        _person_field(self.fields["owner"])
        self.offer([])

    def offer(self, people: list[Membership], *, search_url: str = "") -> None:
        """List ``people`` as the owner's choices (and the chosen one, wherever they came
        from), and make the search box refill the list from ``search_url`` with htmx."""
        field = self.fields["owner"]
        listed = {m.pk for m in people}
        chosen = self._chosen_owner()
        extra = [chosen] if chosen is not None and chosen.pk not in listed else []
        field.widget.choices = [
            ("", field.empty_label),
            *((m.pk, m.display_name) for m in [*extra, *people]),
        ]
        if search_url:
            owner_id = self["owner"].auto_id
            self.fields["owner_email"].widget.attrs.update(
                {
                    "hx-get": search_url,
                    "hx-trigger": "input changed delay:300ms, search",
                    "hx-target": f"#{owner_id}",
                    "hx-swap": "innerHTML",
                    "aria-controls": owner_id,
                }
            )

    def _chosen_owner(self) -> Membership | None:
        if self.is_bound:
            raw = self.data.get(self.add_prefix("owner"))
        else:
            raw = getattr(self.initial.get("owner"), "pk", self.initial.get("owner"))
        if raw in (None, "") or not str(raw).isdigit():
            return None
        return self.fields["owner"].queryset.filter(pk=int(raw)).first()

    def clean(self):
        data = super().clean()
        typed = (data.pop("owner_email", "") or "").strip()
        if not typed or "owner" in self.errors:
            return data
        # An email that names a member wins (that is how it works without JavaScript); a
        # part of a name is what the search box was given, and then the list says who.
        by_email = self.fields["owner"].queryset.filter(user__email__iexact=typed).first()
        if by_email is not None:
            data["owner"] = by_email
        elif "@" in typed or data.get("owner") is None:
            self.add_error(
                "owner_email",
                _(
                    "Nobody active in this organisation has the email “%(email)s”. "
                    "Type their whole email, or choose someone from the list."
                )
                % {"email": typed[:254]},
            )
        return data


# --- Review ------------------------------------------------------------------------------------


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=ReviewDecision.choices, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comment for the owner"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when you request changes: say what should change."),
    )


# --- End-of-quarter self-scoring -----------------------------------------------------------------


class ScoreForm(forms.Form):
    """One key result's self-score. The range, the one decimal and the reflection a
    committed key result below 1.0 needs are the service's rules (``score_submit``)."""

    score = forms.DecimalField(
        label=_("Your score"),
        widget=forms.NumberInput(
            attrs={"min": "0", "max": "1", "step": "0.1", "inputmode": "decimal"}
        ),
        help_text=_("0.0 to 1.0, one decimal."),
    )
    reason = forms.ChoiceField(
        label=_("Main reason"),
        choices=[("", _("Choose a reason")), *ReasonCode.choices],
        required=False,
    )
    what_worked = forms.CharField(
        label=_("What worked"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    what_to_change = forms.CharField(
        label=_("What to change next time"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    @classmethod
    def initial_for(cls, record, suggested) -> dict:
        """The saved score and reflection, else the suggestion from progress."""
        if record is None:
            return {"score": suggested}
        return {
            "score": record.score,
            "reason": record.reason,
            "what_worked": record.what_worked,
            "what_to_change": record.what_to_change,
        }


class ScoreCommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment for the owner"),
        max_length=2000,
        # The service's words (cycles.services.score_review), before it is asked.
        error_messages={"required": _("Write a comment for the owner.")},
        widget=forms.Textarea(attrs={"rows": 2}),
    )
