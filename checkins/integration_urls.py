"""Slack's request URLs (``/integrations/slack/…``): the workspace names the organisation."""

from django.urls import path

from checkins.views import integrations

urlpatterns = [
    path("slack/commands", integrations.slack_commands, name="slack_commands"),
    path("slack/interactions", integrations.slack_interactions, name="slack_interactions"),
]
