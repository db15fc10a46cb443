"""Forms of the cadence: shape only; the rules live in ``checkins.services``."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from checkins.models import CheckIn, Rhythm
from cycles.models import Cycle, KeyResult, Objective
from okrapp.forms import IdChoiceField
from okrapp.models import Membership, Organization

VALUE_LIMIT = 10**15


class CheckInForm(forms.Form):
    value = forms.DecimalField(
        label=_("Value"),
        max_digits=20,
        decimal_places=4,
        min_value=-VALUE_LIMIT,
        max_value=VALUE_LIMIT,
        error_messages={"invalid": _("Enter a number, e.g. 42 or 3.5.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    confidence = forms.IntegerField(
        label=_("Confidence"),
        min_value=1,
        max_value=10,
        error_messages={
            "min_value": _("Confidence is from 1 to 10."),
            "max_value": _("Confidence is from 1 to 10."),
            "invalid": _("Confidence is a whole number from 1 to 10."),
        },
        widget=forms.NumberInput(attrs={"min": 1, "max": 10, "step": 1}),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": _("Progress, and what is in the way")}
        ),
    )
    need_help = forms.BooleanField(label=_("I need help"), required=False)
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)

    def recorded(self) -> dict:
        """The valid form as ``checkins.services.checkin_record``'s keyword arguments."""
        data = self.cleaned_data
        return {
            "value": data["value"],
            "confidence": data["confidence"],
            "note": data["note"],
            "need_help": data["need_help"],
            "expected_revision": data["revision"],
        }

    def lost_race(self, error: ValidationError, newer: CheckIn | None) -> None:
        """Show a lost race (the service's ``ConflictError``) on the form as it was sent,
        now expecting the revision of ``newer``, the check-in shown in its place (``None``:
        there is none): saving again, once its values are read, revises it instead of
        losing against it again."""
        self.conflict = newer
        self.add_error(None, error.messages)
        data = self.data.copy()
        data[self.add_prefix("revision")] = newer.revision if newer is not None else 0
        self.data = data


class AcknowledgeForm(forms.Form):
    reply = forms.CharField(
        label=_("Reply"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"),
        max_length=5000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": _("Write a comment; @name mentions a colleague")}
        ),
    )


class KudosForm(forms.Form):
    receiver = IdChoiceField(
        label=_("To"), queryset=Membership.objects.none(), empty_label=_("Choose a colleague")
    )
    message = forms.CharField(
        label=_("What are you recognising?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    objective = IdChoiceField(
        label=_("For the objective"),
        queryset=Objective.objects.none(),
        required=False,
        empty_label=_("No objective"),
    )
    key_result = IdChoiceField(
        label=_("For the key result"),
        queryset=KeyResult.objects.none(),
        required=False,
        empty_label=_("No key result"),
    )

    def __init__(
        self, *args, org: Organization, by: Membership, cycle: Cycle | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["receiver"].queryset = (
            Membership.objects.for_org(org).active().exclude(pk=by.pk).with_user().ordered()
        )
        self.fields["receiver"].label_from_instance = lambda m: m.display_name
        if cycle is None:
            # Nothing to link to outside an active cycle.
            del self.fields["objective"], self.fields["key_result"]
            return
        # Only what the giver may read: a private objective of others is never offered.
        readable = (
            Objective.objects.for_org(org)
            .in_cycle(cycle)
            .current()
            .visible_to(by, by.managed_team_ids)
        )
        self.fields["objective"].queryset = readable.order_by("level", "title", "id")
        self.fields["key_result"].queryset = (
            KeyResult.objects.for_org(org)
            .filter(objective__in=readable.values("pk"))
            .select_related("objective")
            .order_by("objective__level", "objective__title", "position", "id")
        )
        self.fields["key_result"].label_from_instance = lambda kr: (
            _("%(kr)s (%(objective)s)")
            % {
                "kr": kr.title,
                "objective": kr.objective.title,
            }
        )

    def clean(self):
        data = super().clean()
        if data.get("objective") and data.get("key_result"):
            raise forms.ValidationError(
                _("Link the kudos to a key result or to an objective, not both.")
            )
        return data


class RhythmForm(forms.Form):
    rhythm = forms.ChoiceField(label=_("Rhythm"), choices=Rhythm.choices)


class MeetingForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))


class MeetingNotesForm(forms.Form):
    shared_notes = forms.CharField(
        label=_("Shared notes"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    private_notes = forms.CharField(
        label=_("Private notes (only you see these)"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ActionItemForm(forms.Form):
    text = forms.CharField(label=_("Action"), max_length=300)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, people: list[Membership], **kwargs):
        super().__init__(*args, **kwargs)
        # Choices from the people already loaded: a page of many meetings costs no query
        # per form.
        self._people = {p.pk: p for p in people}
        self.fields["owner"].choices = [("", _("Nobody yet"))] + [
            (p.pk, p.display_name) for p in people
        ]

    def clean_owner(self) -> Membership | None:
        pk = self.cleaned_data.get("owner")
        return None if pk is None else self._people[pk]
