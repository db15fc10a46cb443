"""Reads of the tenancy core that pages of other apps show."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from okrapp.models import Invitation, Organization


def setup_checklist(org: Organization, *, team_count: int, member_count: int) -> list[dict]:
    """The admin's steps to get an organisation ready for its first cycle (one query)."""
    pending = Invitation.objects.for_org(org).pending().count()
    return [
        {
            "done": org.has_mission_and_vision,
            "label": _("State the mission and vision"),
            "url": reverse("org_mission", kwargs={"org_slug": org.slug}),
        },
        {
            "done": team_count > 0,
            "label": _("Create teams"),
            "url": reverse("team_list", kwargs={"org_slug": org.slug}),
        },
        {
            "done": member_count > 1 or pending > 0,
            "label": _("Invite people"),
            "url": reverse("member_invite", kwargs={"org_slug": org.slug}),
        },
    ]
