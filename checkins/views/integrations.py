"""Slack and Teams: the admin's connection page, each person's channels, and Slack's calls."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from checkins import integrations, slack
from okrapp.forms import apply_service_errors
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required

# --- Admin: connect Slack and Teams ------------------------------------------------------------


class IntegrationForm(forms.Form):
    slack_team_id = forms.CharField(
        label=gettext_lazy("Slack workspace id"), max_length=32, required=False
    )
    slack_bot_token = forms.CharField(
        label=gettext_lazy("Bot token (xoxb-…)"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Leave blank to keep the stored token."),
    )
    slack_signing_secret = forms.CharField(
        label=gettext_lazy("Signing secret"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Leave blank to keep the stored secret."),
    )
    teams_webhook_url = forms.CharField(
        label=gettext_lazy("Teams incoming-webhook address"),
        required=False,
        max_length=1000,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Leave blank to keep the stored address."),
    )
    remove_slack = forms.BooleanField(label=gettext_lazy("Disconnect Slack"), required=False)
    remove_teams = forms.BooleanField(label=gettext_lazy("Disconnect Teams"), required=False)


@admin_required
def integration_settings(request, org_slug):
    integration = integrations.integration_for(request.org)
    status = 200
    if request.method == "POST":
        form = IntegrationForm(request.POST)
        if form.is_valid():
            try:
                integrations.integration_save(
                    org=request.org, by=request.membership, **form.cleaned_data
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Integrations saved."))
                return redirect("integration_settings", org_slug=request.org.slug)
        status = 400
    else:
        form = IntegrationForm(
            initial={"slack_team_id": integration.slack_team_id if integration else ""}
        )
    stored = {}
    if integration is not None:
        stored = {
            "has_slack": integration.has_slack,
            "has_teams": integration.has_teams,
            "slack_team_id": integration.slack_team_id,
            "slack_bot_token": integrations.masked(integration.slack_bot_token),
            "slack_signing_secret": integrations.masked(integration.slack_signing_secret),
            "teams_webhook_url": integrations.masked(integration.teams_webhook_url),
        }
    return render_page(
        request,
        "checkins/integrations.html",
        {
            "form": form,
            "stored": stored,
            "commands_url": request.build_absolute_uri("/integrations/slack/commands"),
            "interactions_url": request.build_absolute_uri("/integrations/slack/interactions"),
        },
        status=status,
    )


# --- Each person: where reminders and digests go -------------------------------------------------


class ChannelForm(forms.Form):
    reminders_email = forms.BooleanField(label=gettext_lazy("Reminders by mail"), required=False)
    reminders_slack = forms.BooleanField(label=gettext_lazy("Reminders in Slack"), required=False)
    reminders_teams = forms.BooleanField(label=gettext_lazy("Reminders in Teams"), required=False)
    digests_email = forms.BooleanField(label=gettext_lazy("Digests by mail"), required=False)
    digests_slack = forms.BooleanField(label=gettext_lazy("Digests in Slack"), required=False)
    digests_teams = forms.BooleanField(label=gettext_lazy("Digests in Teams"), required=False)


def channel_settings(request, org_slug):
    integration = integrations.integration_for(request.org)
    connected = {
        "slack": bool(integration and integration.has_slack),
        "teams": bool(integration and integration.has_teams),
    }
    if request.method == "POST":
        form = ChannelForm(request.POST)
        if form.is_valid():
            integrations.channel_preferences_set(
                org=request.org, membership=request.membership, **form.cleaned_data
            )
            messages.success(request, _("Channels saved."))
            return redirect("channel_settings", org_slug=request.org.slug)
    else:
        pref = integrations.preference_for(request.org, request.membership)
        form = ChannelForm(initial={name: getattr(pref, name) for name in ChannelForm.base_fields})
    fields = [f for f in form if f.name.endswith("_email") or connected[f.name.rsplit("_", 1)[1]]]
    return render_page(
        request,
        "checkins/channel_settings.html",
        {"form": form, "fields": fields, "connected": connected},
    )


# --- Slack's requests (not under an organisation: the workspace names it) ------------------------


@csrf_exempt  # Slack signs its requests instead (checkins.slack.verify)
@require_POST
def slack_commands(request):
    verified = slack.verify(request)
    if verified is None:
        return HttpResponse(status=401)
    org, integration = verified
    return JsonResponse(slack.handle_command(org, integration, request.POST))


@csrf_exempt  # Slack signs its requests instead (checkins.slack.verify)
@require_POST
def slack_interactions(request):
    verified = slack.verify(request)
    if verified is None:
        return HttpResponse(status=401)
    org, integration = verified
    try:
        payload = json.loads(request.POST.get("payload", ""))
    except ValueError:
        return HttpResponse(status=400)
    answer = slack.handle_interaction(org, integration, payload)
    return JsonResponse(answer) if answer is not None else HttpResponse(status=200)
