"""Slack calling us: the ``/okr`` slash command and interactive payloads.

Every request is verified before anything is read from the database beyond the
workspace's signing secret: Slack signs ``v0:{timestamp}:{body}`` with HMAC-SHA256; a
timestamp more than five minutes off is refused, and a signature seen in the last five
minutes is refused too (an exact replay). The workspace (``team_id``) names the
organisation; the Slack user names the membership (stored Slack user id, else the email
Slack reports for them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal, InvalidOperation

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from checkins import integrations, selectors, services
from checkins.models import ChannelPreference, Integration
from checkins.notifications import absolute
from cycles.models import KeyResult
from cycles.scoring import plain
from okrapp.models import Membership, Organization

log = logging.getLogger(__name__)

MAX_AGE = 5 * 60
MODAL_CALLBACK = "okr_checkin"
MODAL_MAX_KRS = 20  # a modal holds 100 blocks; each KR takes four


# --- Verification -----------------------------------------------------------------------------


def _team_id(request) -> str:
    if "payload" in request.POST:
        try:
            payload = json.loads(request.POST["payload"])
        except ValueError:
            return ""
        return str((payload.get("team") or {}).get("id") or payload.get("team_id") or "")
    return request.POST.get("team_id", "")


def verify(request) -> tuple[Organization, Integration] | None:
    """The organisation and integration a correctly signed, fresh request comes from."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_AGE or not signature:
        return None
    org = integrations.organization_for_slack_team(_team_id(request))
    if org is None:
        return None
    integration = integrations.integration_for(org)
    if integration is None or not integration.has_slack:
        return None
    base = b"v0:" + stamp.encode() + b":" + request.body
    expected = (
        "v0="
        + hmac.new(integration.slack_signing_secret.encode(), base, hashlib.sha256).hexdigest()
    )
    if not hmac.compare_digest(expected, signature):
        return None
    if not cache.add(f"slack-signature:{signature}", 1, timeout=MAX_AGE):
        return None  # the same request again
    return org, integration


def sign(secret: str, body: bytes, stamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with ``body`` (tests and docs use it)."""
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


# --- Who is asking ----------------------------------------------------------------------------


def membership_for(org: Organization, integration: Integration, slack_user_id: str):
    """The active membership of this Slack user in ``org``, or None."""
    if not slack_user_id:
        return None
    pref = (
        ChannelPreference.objects.for_org(org)
        .filter(
            slack_user_id=slack_user_id, membership__active=True, membership__user__is_active=True
        )
        .select_related("membership__user")
        .first()
    )
    if pref is not None:
        return pref.membership
    try:
        data = integrations.slack_call(
            integration, "users.info", {"user": slack_user_id}, form=True
        )
    except (integrations.ChatRetry, integrations.ChatUndeliverable) as exc:
        log.warning("Slack users.info for %s failed: %s", slack_user_id, exc)
        return None
    email = ((data.get("user") or {}).get("profile") or {}).get("email", "")
    if not email:
        return None
    membership = (
        Membership.objects.for_org(org)
        .active()
        .filter(user__email__iexact=email)
        .with_user()
        .first()
    )
    if membership is not None:
        integrations._remember_slack_user(org, membership, slack_user_id)
    return membership


def _not_linked() -> dict:
    return {
        "response_type": "ephemeral",
        "text": _(
            "Your Slack account is not linked to a member of this organisation. Ask an admin "
            "to invite the email address your Slack profile shows."
        ),
    }


# --- What the person sees ---------------------------------------------------------------------


def _due(org: Organization, membership: Membership):
    now = timezone.now()
    week = services.current_week(org, now)
    return selectors.my_week(org, membership, week, timezone.localdate(now, org.zoneinfo)).due


def _my_week_url(org: Organization) -> str:
    return absolute(reverse("my_week", kwargs={"org_slug": org.slug}))


def _fmt(value) -> str:
    # str(Decimal("1E+2")) would show 100 as "1E+2".
    return "-" if value is None else plain(value)


def due_message(org: Organization, due) -> dict:
    """The ephemeral answer to ``/okr``: due KRs, a quick value box each, and buttons."""
    if not due:
        return {
            "response_type": "ephemeral",
            "text": _("You are all checked in this week. <%(url)s|Open My week>")
            % {"url": _my_week_url(org)},
        }
    blocks: list[dict] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*"
                + _("Due this week in %(org)s: %(count)s key result(s)")
                % {"org": org.name, "count": len(due)}
                + "*",
            },
        }
    ]
    for item in due[:MODAL_MAX_KRS]:
        kr = item.kr
        blocks.append(
            {
                "type": "input",
                "block_id": f"kr-{kr.pk}-quick",
                "dispatch_action": True,
                "label": {"type": "plain_text", "text": kr.title[:2000]},
                "hint": {
                    "type": "plain_text",
                    "text": _("Now %(now)s, target %(target)s. Type a value and press Enter.")
                    % {"now": _fmt(kr.current_value), "target": _fmt(kr.target_value)},
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": "okr_checkin_value",
                    "placeholder": {"type": "plain_text", "text": _("New value")},
                },
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "action_id": "okr_open_checkin",
                    "text": {"type": "plain_text", "text": _("Check in")},
                },
                {
                    "type": "button",
                    "action_id": "okr_link",
                    "url": _my_week_url(org),
                    "text": {"type": "plain_text", "text": _("Open My week")},
                },
            ],
        }
    )
    return {"response_type": "ephemeral", "text": blocks[0]["text"]["text"], "blocks": blocks}


def checkin_modal(org: Organization, due) -> dict:
    """A modal with value, confidence and note for each due KR."""
    blocks: list[dict] = []
    shown = due[:MODAL_MAX_KRS]
    for item in shown:
        kr, last = item.kr, item.last
        confidence = str(last.confidence if last else kr.confidence or 5)
        options = [
            {"text": {"type": "plain_text", "text": str(n)}, "value": str(n)} for n in range(1, 11)
        ]
        blocks += [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{kr.title}*\n"
                    + _("Now %(now)s, target %(target)s %(unit)s")
                    % {
                        "now": _fmt(kr.current_value),
                        "target": _fmt(kr.target_value),
                        "unit": kr.unit,
                    },
                },
            },
            {
                "type": "input",
                "block_id": f"kr-{kr.pk}-value",
                "optional": True,
                "label": {"type": "plain_text", "text": _("Value")},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": f"kr-{kr.pk}-confidence",
                "optional": True,
                "label": {"type": "plain_text", "text": _("Confidence (1-10)")},
                "element": {
                    "type": "static_select",
                    "action_id": "confidence",
                    "options": options,
                    "initial_option": options[int(confidence) - 1],
                },
            },
            {
                "type": "input",
                "block_id": f"kr-{kr.pk}-note",
                "optional": True,
                "label": {"type": "plain_text", "text": _("Note")},
                "element": {"type": "plain_text_input", "action_id": "note", "multiline": True},
            },
        ]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": json.dumps({"kr_ids": [item.kr.pk for item in shown]}),
        "title": {"type": "plain_text", "text": _("Weekly check-in")[:24]},
        "submit": {"type": "plain_text", "text": _("Save")},
        "close": {"type": "plain_text", "text": _("Cancel")},
        "blocks": blocks,
    }


def _open_modal(org, integration, membership, trigger_id: str, due) -> bool:
    if not trigger_id or not due:
        return False
    try:
        integrations.slack_call(
            integration, "views.open", {"trigger_id": trigger_id, "view": checkin_modal(org, due)}
        )
    except (integrations.ChatRetry, integrations.ChatUndeliverable) as exc:
        log.warning("Slack views.open failed: %s", exc)  # the ephemeral message still works
        return False
    return True


# --- Handlers ---------------------------------------------------------------------------------


def handle_command(org: Organization, integration: Integration, form) -> dict:
    membership = membership_for(org, integration, form.get("user_id", ""))
    if membership is None:
        return _not_linked()
    with translation.override(membership.language):
        due = _due(org, membership)
        _open_modal(org, integration, membership, form.get("trigger_id", ""), due)
        return due_message(org, due)


def _checkin_errors(exc: Exception) -> dict[str, list[str]]:
    """A service refusal as {"value" | "confidence": messages}."""
    if isinstance(exc, PermissionDenied):
        return {"value": [str(exc) or _("You cannot check in on this key result.")]}
    if hasattr(exc, "error_dict"):
        out: dict[str, list[str]] = {}
        for name, messages in exc.message_dict.items():
            out.setdefault(name if name in ("value", "confidence") else "value", []).extend(
                messages
            )
        return out
    return {"value": list(exc.messages)}


def _parse_value(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation as exc:
        raise ValidationError({"value": _("Enter a number, for example 42 or 3.5.")}) from exc
    if not value.is_finite():
        raise ValidationError({"value": _("Enter a number, for example 42 or 3.5.")})
    return value


def handle_view_submission(org: Organization, membership: Membership, payload: dict) -> dict:
    """Record the modal's check-ins, all or none; field errors go back to the modal."""
    view = payload.get("view") or {}
    try:
        kr_ids = [int(pk) for pk in json.loads(view.get("private_metadata") or "{}")["kr_ids"]]
    except (ValueError, KeyError, TypeError):
        return {"response_action": "errors", "errors": {}}
    state = (view.get("state") or {}).get("values") or {}
    krs = {kr.pk: kr for kr in KeyResult.objects.for_org(org).filter(pk__in=kr_ids)}
    errors: dict[str, str] = {}
    entries = []
    for pk in kr_ids:
        raw = ((state.get(f"kr-{pk}-value") or {}).get("value") or {}).get("value") or ""
        if not raw.strip() or pk not in krs:
            continue
        option = ((state.get(f"kr-{pk}-confidence") or {}).get("confidence") or {}).get(
            "selected_option"
        ) or {}
        note = ((state.get(f"kr-{pk}-note") or {}).get("note") or {}).get("value") or ""
        try:
            value = _parse_value(raw)
        except ValidationError as exc:
            errors[f"kr-{pk}-value"] = " ".join(exc.messages)
            continue
        if not option.get("value", "").isdigit():
            errors[f"kr-{pk}-confidence"] = _("Choose a confidence from 1 to 10.")
            continue
        entries.append((krs[pk], value, int(option["value"]), note))
    if not entries and not errors:
        first = f"kr-{kr_ids[0]}-value" if kr_ids else "none"
        errors[first] = _("Enter a value for at least one key result.")
    if errors:
        return {"response_action": "errors", "errors": errors}
    with transaction.atomic():
        for kr, value, confidence, note in entries:
            try:
                services.checkin_record(
                    org=org, by=membership, key_result=kr, value=value, confidence=confidence,
                    note=note,
                )  # fmt: skip
            except (ValidationError, PermissionDenied) as exc:
                for name, messages in _checkin_errors(exc).items():
                    errors[f"kr-{kr.pk}-{name}"] = " ".join(messages)
        if errors:
            transaction.set_rollback(True)  # all or nothing, like one form
            return {"response_action": "errors", "errors": errors}
    return {"response_action": "clear"}


def _reply(integration: Integration, response_url: str, text: str) -> None:
    """Answer a block action in the conversation (best effort: the check-in is saved)."""
    if not response_url:
        return
    try:
        integrations._http_post(
            response_url,
            json.dumps(
                {"response_type": "ephemeral", "replace_original": False, "text": text}
            ).encode(),
            "application/json",
        )
    except (integrations.ChatRetry, integrations.ChatUndeliverable) as exc:
        log.warning("Slack response_url failed: %s", exc)


def handle_quick_value(org, integration, membership, payload: dict, action: dict) -> None:
    """A value typed into the ``/okr`` answer for one KR: check in with last confidence."""
    block = action.get("block_id", "")
    try:
        pk = int(block.split("-")[1])
    except (IndexError, ValueError):
        return
    kr = KeyResult.objects.for_org(org).filter(pk=pk).first()
    if kr is None:
        _reply(integration, payload.get("response_url", ""), _("That key result is gone."))
        return
    try:
        value = _parse_value(action.get("value") or "")
        checkin = services.checkin_record(
            org=org, by=membership, key_result=kr, value=value, confidence=kr.confidence or 5
        )
    except (ValidationError, PermissionDenied) as exc:
        messages = [m for ms in _checkin_errors(exc).values() for m in ms]
        _reply(integration, payload.get("response_url", ""), f"{kr.title}: " + " ".join(messages))
        return
    _reply(
        integration,
        payload.get("response_url", ""),
        _("Checked in: %(kr)s is now %(value)s.") % {"kr": kr.title, "value": _fmt(checkin.value)},
    )


def handle_interaction(org: Organization, integration: Integration, payload: dict):
    """Returns the JSON body to answer with, or None for an empty 200."""
    membership = membership_for(org, integration, (payload.get("user") or {}).get("id", ""))
    if membership is None:
        if payload.get("type") == "view_submission":
            return {"response_action": "errors", "errors": {}}
        _reply(integration, payload.get("response_url", ""), _not_linked()["text"])
        return None
    with translation.override(membership.language):
        kind = payload.get("type")
        if kind == "view_submission":
            if (payload.get("view") or {}).get("callback_id") != MODAL_CALLBACK:
                return None
            return handle_view_submission(org, membership, payload)
        if kind == "block_actions":
            for action in payload.get("actions") or []:
                if action.get("action_id") == "okr_open_checkin":
                    _open_modal(
                        org, integration, membership, payload.get("trigger_id", ""),
                        _due(org, membership),
                    )  # fmt: skip
                elif action.get("action_id") == "okr_checkin_value":
                    handle_quick_value(org, integration, membership, payload, action)
        return None
