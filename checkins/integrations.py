"""Slack and Microsoft Teams: the organisation's connection, who wants what where, and sending.

Chat notifications ride on the same exactly-once protocol as mail
(``checkins.notifications``): the tick claims one row per (person, week, kind, channel)
and a worker moves it claimed → sending → sent. :func:`deliver` raises
:class:`ChatRetry` when the post may succeed later (timeout, 5xx, 429, ``ok: false``):
the claim goes back to "claimed" and the task retries with backoff. It raises
:class:`ChatUndeliverable` when retrying cannot help (Slack not connected, the person is
not in the workspace): the claim is skipped with the reason.

HTTP is ``urllib.request`` with a short timeout; the Slack base URL is
``settings.SLACK_API_BASE`` and Teams posts to the webhook URL itself, so tests run
against a local fake server.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import translation
from django.utils.translation import gettext as _

from checkins.models import Channel, ChannelPreference, Integration, NotificationKind
from okrapp.models import Membership, Organization

log = logging.getLogger(__name__)

# Which preference fields a kind reads; kinds not listed go by mail only.
PREFERENCE_PREFIX = {
    NotificationKind.CHECKIN_REMINDER: "reminders",
    NotificationKind.MANAGER_DIGEST: "digests",
}
CHAT_CHANNELS = (Channel.SLACK, Channel.TEAMS)


class ChatRetry(Exception):
    """The post failed in a way that may pass (timeout, 5xx, rate limit, ``ok: false``)."""


class ChatUndeliverable(Exception):
    """Retrying cannot help: the claim is skipped with this reason."""


def masked(secret: str) -> str:
    """What a page may show of a credential: its last four characters."""
    if not secret:
        return ""
    return "••••" + secret[-4:] if len(secret) > 8 else "••••"


# --- Reads ------------------------------------------------------------------------------------


def integration_for(org: Organization) -> Integration | None:
    return Integration.objects.for_org(org).first()


def organization_for_slack_team(team_id: str) -> Organization | None:
    """The organisation that connected this Slack workspace.

    A Slack request names its workspace, not an organisation, so this is the one question
    asked across organisations. It reads ``Organization`` (not tenant data) and returns
    nothing but the organisation; its integration is then read inside it with ``for_org``.
    """
    if not team_id:
        return None
    connected = Integration.objects.filter(organization=OuterRef("pk"), slack_team_id=team_id)
    return Organization.objects.filter(Exists(connected)).first()


def preference_for(org: Organization, membership: Membership) -> ChannelPreference:
    """The person's channel preference (defaults, unsaved, when they never chose)."""
    pref = ChannelPreference.objects.for_org(org).filter(membership=membership).first()
    return pref or ChannelPreference(organization=org, membership=membership)


def recipients_by_channel(
    org: Organization, kind: str, due_ids: Iterable[int]
) -> dict[str, list[int]]:
    """Split the people due a notification by the channels they chose (two queries).

    Mail goes to everyone due except those who switched mail off for this kind; Slack and
    Teams go to those who opted in, while the organisation has that channel connected.
    """
    due = list(due_ids)
    prefix = PREFERENCE_PREFIX.get(kind)
    if prefix is None or not due:
        return {Channel.EMAIL: due}
    prefs = {
        pk: flags
        for pk, *flags in ChannelPreference.objects.for_org(org)
        .filter(membership_id__in=due)
        .values_list("membership_id", f"{prefix}_email", f"{prefix}_slack", f"{prefix}_teams")
    }
    if not prefs:
        return {Channel.EMAIL: due}
    integration = integration_for(org)
    connected = {
        Channel.SLACK: bool(integration and integration.has_slack),
        Channel.TEAMS: bool(integration and integration.has_teams),
    }
    out: dict[str, list[int]] = {Channel.EMAIL: [], Channel.SLACK: [], Channel.TEAMS: []}
    for pk in due:
        email, slack, teams = prefs.get(pk, (True, False, False))
        if email:
            out[Channel.EMAIL].append(pk)
        if slack and connected[Channel.SLACK]:
            out[Channel.SLACK].append(pk)
        if teams and connected[Channel.TEAMS]:
            out[Channel.TEAMS].append(pk)
    return out


# --- Writes -----------------------------------------------------------------------------------


@transaction.atomic
def integration_save(
    *,
    org: Organization,
    by: Membership,
    slack_team_id: str = "",
    slack_bot_token: str = "",
    slack_signing_secret: str = "",
    teams_webhook_url: str = "",
    remove_slack: bool = False,
    remove_teams: bool = False,
) -> Integration:
    """Connect or change Slack and Teams. A blank secret keeps the stored one."""
    from django.core.exceptions import PermissionDenied

    if not by.is_admin:
        raise PermissionDenied(_("Only admins can connect Slack or Teams."))
    integration = integration_for(org) or Integration(organization=org)
    if remove_slack:
        integration.slack_team_id = integration.slack_bot_token = ""
        integration.slack_signing_secret = ""
    else:
        team_id = slack_team_id.strip()
        token = slack_bot_token.strip() or integration.slack_bot_token
        secret = slack_signing_secret.strip() or integration.slack_signing_secret
        if team_id or slack_bot_token.strip() or slack_signing_secret.strip():
            errors = {}
            if not team_id:
                errors["slack_team_id"] = _("Enter the workspace id (it starts with T).")
            if not token.startswith("xoxb-"):
                errors["slack_bot_token"] = _("Enter the bot token (it starts with xoxb-).")
            if not secret:
                errors["slack_signing_secret"] = _("Enter the app's signing secret.")
            taken = organization_for_slack_team(team_id)
            if taken is not None and taken.pk != org.pk:
                errors["slack_team_id"] = _(
                    "This Slack workspace is connected to another organisation."
                )
            if errors:
                raise ValidationError(errors)
            integration.slack_team_id = team_id
            integration.slack_bot_token, integration.slack_signing_secret = token, secret
    if remove_teams:
        integration.teams_webhook_url = ""
    elif teams_webhook_url.strip():
        url = teams_webhook_url.strip()
        if not url.startswith("https://") and not settings.TEAMS_ALLOW_HTTP:
            raise ValidationError(
                {"teams_webhook_url": _("The webhook address starts with https://.")}
            )
        integration.teams_webhook_url = url
    integration.full_clean(exclude=["organization"])
    integration.save()
    return integration


@transaction.atomic
def channel_preferences_set(
    *, org: Organization, membership: Membership, **flags: bool
) -> ChannelPreference:
    """Save where ``membership`` wants reminders and digests."""
    allowed = {f"{p}_{c}" for p in ("reminders", "digests") for c in ("email", "slack", "teams")}
    unknown = set(flags) - allowed
    if unknown:
        raise TypeError(f"unknown preference(s): {sorted(unknown)}")
    pref, _created = ChannelPreference.objects.for_org(org).get_or_create(
        organization=org, membership=membership, defaults=flags
    )
    if not _created:
        for name, value in flags.items():
            setattr(pref, name, value)
        pref.save(update_fields=list(flags))
    return pref


def _remember_slack_user(org: Organization, membership: Membership, slack_user_id: str) -> None:
    ChannelPreference.objects.for_org(org).update_or_create(
        organization=org, membership=membership, defaults={"slack_user_id": slack_user_id}
    )


# --- HTTP -------------------------------------------------------------------------------------


def _http_post(url: str, data: bytes, content_type: str, headers: dict | None = None) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - scheme checked below
        url, data=data, method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        # Only http(s): the URLs are settings and admin-entered webhook addresses.
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ChatUndeliverable(f"not an http(s) address: {url[:40]}")
        with urllib.request.urlopen(  # noqa: S310 - scheme checked above
            request, timeout=settings.CHAT_HTTP_TIMEOUT
        ) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise ChatRetry(f"HTTP {exc.code} from {urllib.parse.urlsplit(url).netloc}") from exc
        raise ChatUndeliverable(f"HTTP {exc.code}: {exc.read()[:200]!r}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:  # timeouts, refused
        raise ChatRetry(f"no answer from {urllib.parse.urlsplit(url).netloc}: {exc}") from exc


def slack_call(integration: Integration, method: str, payload: dict, *, form: bool = False):
    """Call a Slack Web API method; ``ok: false`` raises :class:`ChatRetry`."""
    url = f"{settings.SLACK_API_BASE.rstrip('/')}/{method}"
    auth = {"Authorization": f"Bearer {integration.slack_bot_token}"}
    if form:
        body = _http_post(
            url, urllib.parse.urlencode(payload).encode(), "application/x-www-form-urlencoded", auth
        )
    else:
        body = _http_post(
            url, json.dumps(payload).encode(), "application/json; charset=utf-8", auth
        )
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ChatRetry(f"Slack {method}: not JSON") from exc
    if not data.get("ok"):
        raise ChatRetry(f"Slack {method}: {data.get('error', 'ok: false')}")
    return data


def slack_user_for(org: Organization, integration: Integration, membership: Membership) -> str:
    """The person's Slack user id: stored, or looked up by their email and stored."""
    pref = ChannelPreference.objects.for_org(org).filter(membership=membership).first()
    if pref and pref.slack_user_id:
        return pref.slack_user_id
    try:
        data = slack_call(
            integration, "users.lookupByEmail", {"email": membership.user.email}, form=True
        )
    except ChatRetry as exc:
        if "users_not_found" in str(exc):
            raise ChatUndeliverable(
                f"{membership.user.email} is not a member of the Slack workspace"
            ) from exc
        raise
    user_id = data["user"]["id"]
    _remember_slack_user(org, membership, user_id)
    return user_id


def teams_post(integration: Integration, card: dict) -> None:
    _http_post(integration.teams_webhook_url, json.dumps(card).encode(), "application/json")


# --- Messages ---------------------------------------------------------------------------------


def _kr_line(kr) -> str:
    unit = f" {kr.unit}" if kr.unit else ""
    return _("%(title)s (now %(now)s, target %(target)s%(unit)s)") % {
        "title": kr.title,
        "now": kr.current_value.normalize() if kr.current_value is not None else "-",
        "target": kr.target_value.normalize() if kr.target_value is not None else "-",
        "unit": unit,
    }


def _summary(org: Organization, kind: str, mail) -> tuple[str, list[str], str, str]:
    """Title, lines, link label and link of a notification, in the active language."""
    if kind == NotificationKind.CHECKIN_REMINDER:
        krs = mail.context["key_results"]
        title = _("%(org)s: time to check in on %(count)s key result(s)") % {
            "org": org.name,
            "count": len(krs),
        }
        return title, [_kr_line(kr) for kr in krs], _("Open My week"), mail.context["my_week_url"]
    lines = []
    for row in mail.context["rows"]:
        missing = ", ".join(kr.title for kr in row["missing"]) or "-"
        help_ = ", ".join(c.key_result.title for c in row["need_help"])
        line = _("%(person)s: no check-in on %(missing)s") % {
            "person": row["person"].display_name,
            "missing": missing,
        }
        if help_:
            line += " · " + _("needs help on %(krs)s") % {"krs": help_}
        lines.append(line)
    title = _("%(org)s: your team's check-ins this week") % {"org": org.name}
    return title, lines, _("Open the acknowledgement queue"), mail.context["action_url"]


def slack_message(org: Organization, kind: str, mail) -> dict:
    title, lines, link_label, link = _summary(org, kind, mail)
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(f"• {x}" for x in lines)}},
    ]
    buttons = []
    if kind == NotificationKind.CHECKIN_REMINDER:
        buttons.append(
            {
                "type": "button",
                "style": "primary",
                "action_id": "okr_open_checkin",
                "text": {"type": "plain_text", "text": _("Check in")},
            }
        )
    buttons.append(
        {
            "type": "button",
            "action_id": "okr_link",
            "url": link,
            "text": {"type": "plain_text", "text": link_label},
        }
    )
    blocks.append({"type": "actions", "elements": buttons})
    return {"text": title, "blocks": blocks}


def teams_card(org: Organization, kind: str, mail, person: Membership) -> dict:
    """A MessageCard for an incoming webhook (it posts to the webhook's channel)."""
    title, lines, link_label, link = _summary(org, kind, mail)
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": title,
        "themeColor": "2563EB",
        "title": title,
        "sections": [
            {"activityTitle": person.display_name, "text": "\n\n".join(f"- {x}" for x in lines)}
        ],
        "potentialAction": [
            {"@type": "OpenUri", "name": link_label, "targets": [{"os": "default", "uri": link}]}
        ],
    }


def deliver(org: Organization, claim, mail, links: dict) -> None:
    """Post one claimed chat notification. Raises ChatRetry or ChatUndeliverable."""
    integration = integration_for(org)
    person = claim.membership
    mail.context = {**links, **mail.context}
    with translation.override(person.language):
        if claim.channel == Channel.SLACK:
            if integration is None or not integration.has_slack:
                raise ChatUndeliverable("Slack is not connected")
            user_id = slack_user_for(org, integration, person)
            slack_call(
                integration,
                "chat.postMessage",
                {"channel": user_id, **slack_message(org, claim.kind, mail)},
            )
        elif claim.channel == Channel.TEAMS:
            if integration is None or not integration.has_teams:
                raise ChatUndeliverable("Teams is not connected")
            teams_post(integration, teams_card(org, claim.kind, mail, person))
        else:
            raise ChatUndeliverable(f"unknown channel {claim.channel}")
