"""The calendar feed, outside ``/<org_slug>/``: calendar apps fetch it without a session."""

from django.urls import path

from checkins.views import calendar

urlpatterns = [
    path("<str:token>.ics", calendar.calendar_feed, name="calendar_feed"),
]
