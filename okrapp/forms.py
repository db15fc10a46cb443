"""Forms validate the shape of input; the rules live in ``okrapp.services``."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils.text import slugify
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from okrapp.models import (
    TIME_ZONE_CHOICES,
    Language,
    Membership,
    Organization,
    Team,
)
from okrapp.rows import is_id


def apply_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, field by field where it names fields."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


# --- Rows chosen by id -------------------------------------------------------------------------


def _is_id(value) -> bool:
    """Whether ``value`` can be a row's id: ASCII digits, no larger than a 64-bit key.

    Checked before any query: SQLite cannot bind a larger number (``OverflowError``, a 500
    from a list of ids), and ``int()`` would read other scripts' digits ("١٢") as an id.
    """
    return is_id(str(value).strip())


class IdChoiceField(forms.ModelChoiceField):
    """A row of ``queryset`` chosen by its id; anything else is an invalid choice."""

    def to_python(self, value):
        if value not in self.empty_values and not isinstance(value, Model) and not _is_id(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Rows of ``queryset`` chosen by their ids; a value that is not an id is refused with
    the field's "not one of the available choices" message, as an unknown id is."""

    def clean(self, value):
        values = self.prepare_value(value)  # rows given as such become their ids
        if isinstance(values, list | tuple):
            for pk in values:
                if not _is_id(pk):
                    raise ValidationError(
                        self.error_messages["invalid_choice"],
                        code="invalid_choice",
                        params={"value": pk},
                    )
        return super().clean(value)


def languages_by_own_name() -> list[tuple[str, str]]:
    """Each language under its own name, then the page's name for it when that differs
    ("繁體中文 (Traditional Chinese)"), so a person finds theirs whatever the page's language."""
    choices = []
    for code, name in Language.choices:
        own = get_language_info(code)["name_local"]
        choices.append((code, own if own == str(name) else f"{own} ({name})"))
    return choices


class SignupDetailsForm(forms.Form):
    """Extra sign-up fields for django-allauth (``ACCOUNT_SIGNUP_FORM_CLASS``)."""

    full_name = forms.CharField(label=_("Full name"), max_length=150)

    def signup(self, request, user):
        user.full_name = self.cleaned_data["full_name"].strip()
        user.save(update_fields=["full_name"])


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(label=_("Organisation name"), max_length=120)
    slug = forms.SlugField(
        label=_("Address"),
        max_length=50,
        help_text=_("Your organisation's pages live at /<address>/. Letters, digits, hyphens."),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES, initial="UTC")
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices, initial="en")

    def clean_slug(self):
        return slugify(self.cleaned_data["slug"])


class MissionVisionForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["mission", "vision"]
        widgets = {
            "mission": forms.Textarea(attrs={"rows": 3}),
            "vision": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.fields:
            self.fields[name].required = True


class OrganizationSettingsForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = [
            "name",
            "mission",
            "vision",
            "time_zone",
            "language",
            "fiscal_year_start_month",
            "checkin_weekday",
            "checkin_hour",
            "escalation_grace_days",
        ]
        widgets = {
            "mission": forms.Textarea(attrs={"rows": 3}),
            "vision": forms.Textarea(attrs={"rows": 3}),
            "time_zone": forms.Select(choices=TIME_ZONE_CHOICES),
            "checkin_hour": forms.NumberInput(attrs={"min": 0, "max": 23}),
        }
        help_texts = {
            # The digest of a week goes in that week (checkins.reminders.escalation_moment).
            "escalation_grace_days": _(
                "Days after the check-in moment before managers get a digest of missing "
                "check-ins and OKR Masters a cadence summary. It comes at the latest on Sunday "
                "at 23:00 (the organisation's time), the last hour of the check-in week."
            ),
        }


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(
        label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )
    team = IdChoiceField(
        label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("No team yet")
    )

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_org(org).order_by("name")


class MembershipForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)
    manager = IdChoiceField(
        label=_("Manager"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("No manager"),
    )
    is_okr_master = forms.BooleanField(label=_("OKR Master"), required=False)

    def __init__(self, *args, org: Organization, membership: Membership, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "role": membership.role,
                "manager": membership.manager_id,
                "is_okr_master": membership.is_okr_master,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = (
            Membership.objects.for_org(org).active().exclude(pk=membership.pk).with_user().ordered()
        )
        self.fields["manager"].label_from_instance = lambda m: m.display_name


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    parent = IdChoiceField(
        label=_("Part of"), queryset=Team.objects.none(), required=False, empty_label=_("Top level")
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, org: Organization, team: Team | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        parents = Team.objects.for_org(org).order_by("name")
        if team is not None:
            parents = parents.exclude(pk=team.pk)
        self.fields["parent"].queryset = parents


class TeamMemberForm(forms.Form):
    membership = IdChoiceField(
        label=_("Person"), queryset=Membership.objects.none(), empty_label=_("Choose a person")
    )
    is_lead = forms.BooleanField(label=_("Team lead"), required=False)

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership"].queryset = (
            Membership.objects.for_org(org).active().with_user().ordered()
        )
        self.fields["membership"].label_from_instance = lambda m: m.display_name


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES)
    language = forms.ChoiceField(label=_("Language"), choices=languages_by_own_name)


class AcceptInvitationForm(forms.Form):
    """For a person without an account: their name and a password."""

    full_name = forms.CharField(label=_("Full name"), max_length=150)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password_again = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return cleaned


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=80,
        help_text=_("What the token is for, e.g. “weekly export”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
