"""A person's notification preferences and time away; stuck deliveries for admins."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from checkins import calendar, reminders, services
from checkins.models import AwayPeriod, NotificationClaim
from okrapp.forms import apply_service_errors
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required


class PreferencesForm(forms.Form):
    reminders = forms.BooleanField(
        label=gettext_lazy("Weekly check-in and scoring reminders"), required=False
    )
    mentions = forms.BooleanField(
        label=gettext_lazy("When someone mentions me in a comment"), required=False
    )
    digests = forms.BooleanField(
        label=gettext_lazy("Weekly digests (managers: missing check-ins; OKR Masters: cadence)"),
        required=False,
    )


class AwayForm(forms.Form):
    starts_on = forms.DateField(
        label=gettext_lazy("First day away"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label=gettext_lazy("Last day away"), widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=gettext_lazy("Note"), max_length=120, required=False)


def _page(request, *, prefs_form=None, away_form=None, status=200, new_calendar_url=None):
    m = request.membership
    context = {
        "prefs_form": prefs_form
        or PreferencesForm(
            initial={
                "reminders": m.notify_reminders,
                "mentions": m.notify_mentions,
                "digests": m.notify_digests,
            }
        ),
        "away_form": away_form or AwayForm(),
        "away_periods": list(AwayPeriod.objects.for_org(request.org).filter(membership=m)),
        "stuck": list(reminders.stuck_claims(request.org)) if m.is_admin else [],
        "failed": list(reminders.failed_claims(request.org)) if m.is_admin else [],
        "calendar_feed": calendar.live_feed(request.org, m),
        "new_calendar_url": new_calendar_url,
    }
    return render_page(request, "checkins/notifications.html", context, status=status)


def notification_settings(request, org_slug):
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.notification_preferences_set(
                membership=request.membership, **form.cleaned_data
            )
            messages.success(request, _("Notification settings saved."))
            return redirect("notification_settings", org_slug=request.org.slug)
        return _page(request, prefs_form=form, status=400)
    return _page(request)


@require_POST
def away_add(request, org_slug):
    form = AwayForm(request.POST)
    if form.is_valid():
        try:
            services.away_add(org=request.org, by=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Time away saved: no reminders on those days."))
            return redirect("notification_settings", org_slug=request.org.slug)
    return _page(request, away_form=form, status=400)


@require_POST
def away_delete(request, org_slug, away_id):
    away = get_object_or_404(
        AwayPeriod.objects.for_org(request.org).filter(membership=request.membership),
        pk=away_id,
    )
    services.away_delete(org=request.org, by=request.membership, away=away)
    messages.success(request, _("Time away removed."))
    return redirect("notification_settings", org_slug=request.org.slug)


@admin_required
@require_POST
def notification_resend(request, org_slug, claim_id):
    claim = get_object_or_404(NotificationClaim.objects.for_org(request.org), pk=claim_id)
    if services.notification_resend(org=request.org, by=request.membership, claim=claim):
        messages.success(request, _("Sent again."))
    else:
        messages.warning(
            request,
            _("Not sent again: its week is over, so it is now listed as not delivered."),
        )
    return redirect("notification_settings", org_slug=request.org.slug)
