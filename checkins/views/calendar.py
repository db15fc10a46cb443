"""The ICS feed (no session: the secret address is the credential) and its settings."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from checkins import calendar
from checkins.views.notifications import _page


@require_GET
def calendar_feed(request, token):
    """Unknown, malformed or revoked token, or a person who lost access → 404."""
    feed = calendar.feed_for_token(token)
    if feed is None:
        raise Http404("No such calendar.")
    response = HttpResponse(
        calendar.build_ics(feed.membership), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="okrs.ics"'
    response["Cache-Control"] = "private, max-age=900"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_POST
def calendar_feed_create(request, org_slug):
    """Make (or replace) the person's feed and show its address in this response only."""
    _feed, token = calendar.calendar_feed_create(org=request.org, by=request.membership)
    response = _page(request, new_calendar_url=calendar.feed_url(token))
    add_never_cache_headers(response)
    return response


@require_POST
def calendar_feed_revoke(request, org_slug):
    if calendar.calendar_feed_revoke(org=request.org, by=request.membership):
        messages.success(request, _("Calendar address revoked: calendars using it stop updating."))
    return redirect("notification_settings", org_slug=request.org.slug)
