"""Pages of the cadence under ``/<org_slug>/`` (included by ``okrapp.urls_tenant``)."""

from django.urls import path

from checkins.views import (
    acknowledgements,
    conversation,
    dashboards,
    integrations,
    key_results,
    kudos,
    my_week,
    notifications,
    objectives,
    one_on_ones,
)
from checkins.views import calendar as calendar_views
from checkins.views import portability as portability_views
from checkins.views import reports as report_views

urlpatterns = [
    path("my-week/", my_week.my_week, name="my_week"),
    path("my-week/<int:kr_id>/", my_week.my_week_save, name="my_week_save"),
    # The KR and objective pages: their figures from cycles, plus check-ins and comments.
    path("key-results/<int:kr_id>/", key_results.key_result_detail, name="key_result_detail"),
    path(
        "key-results/<int:kr_id>/check-in/",
        key_results.key_result_checkin,
        name="key_result_checkin",
    ),
    path("objectives/<int:objective_id>/", objectives.objective_detail, name="objective_detail"),
    # Conversation.
    path(
        "key-results/<int:kr_id>/comments/",
        conversation.key_result_comment,
        name="key_result_comment",
    ),
    path(
        "objectives/<int:objective_id>/comments/",
        conversation.objective_comment,
        name="objective_comment",
    ),
    path(
        "check-ins/<int:checkin_id>/comments/", conversation.checkin_comment, name="checkin_comment"
    ),
    path(
        "check-ins/<int:checkin_id>/acknowledge/",
        conversation.checkin_acknowledge,
        name="checkin_acknowledge",
    ),
    path("comments/<int:comment_id>/edit/", conversation.comment_edit, name="comment_edit"),
    path("comments/<int:comment_id>/delete/", conversation.comment_delete, name="comment_delete"),
    # The manager's acknowledgement queue (the form posts to checkin_acknowledge above).
    path("check-ins/to-acknowledge/", acknowledgements.ack_queue, name="ack_queue"),
    # Kudos.
    path("kudos/", kudos.kudos_feed, name="kudos_feed"),
    path("kudos/give/", kudos.kudos_give, name="kudos_give"),
    path("people/<int:membership_id>/kudos/", kudos.person_kudos, name="person_kudos"),
    # One-on-ones: a pair is addressed by the other person's membership id.
    path("one-on-ones/", one_on_ones.one_on_one_list, name="one_on_one_list"),
    path(
        "one-on-ones/<int:membership_id>/", one_on_ones.one_on_one_detail, name="one_on_one_detail"
    ),
    path(
        "one-on-ones/<int:membership_id>/rhythm/",
        one_on_ones.one_on_one_rhythm,
        name="one_on_one_rhythm",
    ),
    path(
        "one-on-ones/<int:membership_id>/meetings/",
        one_on_ones.one_on_one_meeting_create,
        name="one_on_one_meeting_create",
    ),
    path(
        "one-on-ones/meetings/<int:meeting_id>/notes/",
        one_on_ones.meeting_notes,
        name="meeting_notes",
    ),
    path(
        "one-on-ones/meetings/<int:meeting_id>/action-items/",
        one_on_ones.meeting_action_item_add,
        name="meeting_action_item_add",
    ),
    path(
        "one-on-ones/action-items/<int:item_id>/done/",
        one_on_ones.action_item_done,
        name="action_item_done",
    ),
    # Notifications.
    path("notifications/", notifications.notification_settings, name="notification_settings"),
    path("notifications/away/", notifications.away_add, name="away_add"),
    path("notifications/away/<int:away_id>/delete/", notifications.away_delete, name="away_delete"),
    path(
        "notifications/calendar/", calendar_views.calendar_feed_create, name="calendar_feed_create"
    ),
    path(
        "notifications/calendar/revoke/",
        calendar_views.calendar_feed_revoke,
        name="calendar_feed_revoke",
    ),
    path(
        "notifications/<int:claim_id>/resend/",
        notifications.notification_resend,
        name="notification_resend",
    ),
    # The quarter report of a cycle: its page (status partial for htmx), downloads, rebuild.
    path("cycles/<int:cycle_id>/report/", report_views.cycle_report, name="cycle_report"),
    path(
        "cycles/<int:cycle_id>/report/generate/",
        report_views.cycle_report_generate,
        name="cycle_report_generate",
    ),
    path(
        "cycles/<int:cycle_id>/report/report.csv",
        report_views.cycle_report_csv,
        name="cycle_report_csv",
    ),
    path(
        "cycles/<int:cycle_id>/report/report.pdf",
        report_views.cycle_report_pdf,
        name="cycle_report_pdf",
    ),
    # Dashboards: the company view is the organisation's home page; a team's address is its
    # dashboard (its people and settings are at teams/<team_slug>/people/, okrapp.urls_tenant).
    path("", dashboards.company, name="org_home"),
    path("teams/<slug:team_slug>/", dashboards.team_dashboard, name="team_dashboard"),
    path(
        "teams/<slug:team_slug>/dashboard.csv",
        dashboards.team_dashboard_csv,
        name="team_dashboard_csv",
    ),
    path("cycles/<int:cycle_id>/cadence/", dashboards.cadence_health, name="cadence_health"),
    path("cadence/", dashboards.cadence_current, name="cadence_current"),
    # The organisation's JSON archive (admins): export, download, import into an empty org.
    path("export/", portability_views.org_export, name="org_export"),
    path("export/start/", portability_views.org_export_start, name="org_export_start"),
    path("export/archive.json", portability_views.org_export_download, name="org_export_download"),
    path("export/import/", portability_views.org_import, name="org_import"),
    # Slack and Teams: the admin's connection page; each person's channels.
    path("integrations/", integrations.integration_settings, name="integration_settings"),
    path("notifications/channels/", integrations.channel_settings, name="channel_settings"),
]
