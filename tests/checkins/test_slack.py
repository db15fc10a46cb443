"""Slack: DMs exactly once per channel with retries; signed /okr and interactive check-ins."""

import json
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from checkins import integrations, notifications, reminders
from checkins.models import ChannelPreference, CheckIn, ClaimStatus, Integration, NotificationClaim
from checkins.slack import sign
from tests.checkins.chat_fake import (  # noqa: F401 - fixtures
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    connected,
    fake_chat,
)

pytestmark = pytest.mark.django_db


def at(day_offset, hour, minute=0):
    """A UTC instant after Monday 23 Nov 2026 (Acme: Taipei, Mondays 10:00 = 02:00 UTC)."""
    return datetime(2026, 11, 23, hour, minute, tzinfo=UTC) + timedelta(days=day_offset)


def run(org, now):
    ids = reminders.claim_due(org, now)
    if ids:
        notifications.send_claims(org, ids)
    return ids


@pytest.fixture
def carol_on_slack(acme, carol, connected, fake_chat):  # noqa: F811
    fake_chat.users["carol@acme.example"] = "U0CAROL"
    integrations.channel_preferences_set(org=acme, membership=carol, reminders_slack=True)
    return carol


# --- Outbound ------------------------------------------------------------------------------------


def test_a_reminder_is_a_slack_dm_with_the_due_krs_once(acme, carol_on_slack, kr, kr2, fake_chat):  # noqa: F811
    run(acme, at(0, 3))
    run(acme, at(0, 3, 15))
    run(acme, at(2, 3))
    lookups = fake_chat.calls("users.lookupByEmail")
    assert [r.form["email"] for r in lookups] == ["carol@acme.example"]
    assert lookups[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    posts = fake_chat.calls("chat.postMessage")
    assert len(posts) == 1
    body = posts[0].json
    assert body["channel"] == "U0CAROL"
    text = json.dumps(body["blocks"])
    assert kr.title in text and kr2.title in text
    actions = body["blocks"][-1]["elements"]
    assert actions[0]["action_id"] == "okr_open_checkin"
    assert actions[1]["url"].endswith("/acme/my-week/")
    assert [m.to for m in mail.outbox if "check in on" in m.subject] == [["carol@acme.example"]]
    # The Slack user id is remembered: no lookup next time.
    assert ChannelPreference.objects.for_org(acme).get().slack_user_id == "U0CAROL"


def test_slack_only_and_no_second_lookup(acme, carol_on_slack, kr, fake_chat):  # noqa: F811
    integrations.channel_preferences_set(org=acme, membership=carol_on_slack, reminders_email=False)
    run(acme, at(0, 3))
    run(acme, at(7, 3))  # next week
    assert mail.outbox == []
    assert len(fake_chat.calls("chat.postMessage")) == 2
    assert len(fake_chat.calls("users.lookupByEmail")) == 1


@pytest.mark.parametrize("failure", [500, "timeout", {"ok": False, "error": "ratelimited"}])
def test_a_failed_post_is_retried_and_sent_once(acme, carol_on_slack, kr, fake_chat, failure):  # noqa: F811
    ids = reminders.claim_due(acme, at(0, 3))
    slack_claim = NotificationClaim.objects.for_org(acme).get(channel="slack")
    # Carol's Slack id is known, so the only call is the post; it fails once.
    integration = integrations.integration_for(acme)
    assert integrations.slack_user_for(acme, integration, carol_on_slack) == "U0CAROL"
    fake_chat.fail_next(failure)
    with pytest.raises(notifications.SendFailed):
        notifications.send_claims(acme, ids)
    slack_claim.refresh_from_db()
    assert slack_claim.status == ClaimStatus.CLAIMED and slack_claim.error
    assert len(mail.outbox) == 1  # the mail went; only Slack waits for its retry
    notifications.send_claims(acme, ids)
    notifications.send_claims(acme, ids)
    slack_claim.refresh_from_db()
    assert slack_claim.status == ClaimStatus.SENT
    assert len(fake_chat.calls("chat.postMessage")) == 2  # the failed one, then one more
    assert len(mail.outbox) == 1
    assert reminders.claim_due(acme, at(0, 5)) == []


def test_two_ticks_claim_each_channel_once(acme, carol_on_slack, kr):
    first = reminders.claim_due(acme, at(0, 3))
    second = reminders.claim_due(acme, at(0, 3))
    assert len(first) == 2 and second == []
    channels = sorted(NotificationClaim.objects.for_org(acme).values_list("channel", flat=True))
    assert channels == ["email", "slack"]


def test_someone_not_in_the_workspace_is_skipped(acme, carol, kr, connected, fake_chat):  # noqa: F811
    integrations.channel_preferences_set(org=acme, membership=carol, reminders_slack=True)
    run(acme, at(0, 3))
    claim = NotificationClaim.objects.for_org(acme).get(channel="slack")
    assert claim.status == ClaimStatus.SKIPPED and "not a member" in claim.error
    assert fake_chat.calls("chat.postMessage") == []


# --- Admin page and preferences -----------------------------------------------------------------


def test_admin_connects_slack_and_secrets_are_not_shown(acme, alice, carol, login, fake_chat):  # noqa: F811
    url = reverse("integration_settings", kwargs={"org_slug": "acme"})
    assert login(carol).get(url).status_code == 403
    client = login(alice)
    response = client.post(
        url,
        {
            "slack_team_id": TEAM_ID,
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "teams_webhook_url": "https://example.webhook.office.com/webhookb2/abc/IncomingWebhook/def",
        },
    )
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert TEAM_ID in page
    for secret in (BOT_TOKEN, SIGNING_SECRET, "IncomingWebhook/def"):
        assert secret not in page
    assert "••••" + BOT_TOKEN[-4:] in page
    # Saving again with blank secrets keeps them.
    client.post(url, {"slack_team_id": TEAM_ID})
    integration = Integration.objects.for_org(acme).get()
    assert integration.slack_bot_token == BOT_TOKEN and integration.has_teams


def test_a_workspace_belongs_to_one_organisation(acme, alice, globex, mallory, connected):  # noqa: F811
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        integrations.integration_save(
            org=globex,
            by=mallory,
            slack_team_id=TEAM_ID,
            slack_bot_token="xoxb-other",
            slack_signing_secret="other",
        )


def test_a_person_chooses_channels(acme, carol, login, connected):  # noqa: F811
    url = reverse("channel_settings", kwargs={"org_slug": "acme"})
    client = login(carol)
    page = client.get(url).content.decode()
    assert "Reminders in Slack" in page and "Digests in Teams" in page
    client.post(url, {"reminders_slack": "on", "digests_email": "on"})
    pref = ChannelPreference.objects.for_org(acme).get(membership=carol)
    assert pref.reminders_slack and not pref.reminders_email and pref.digests_email


# --- Inbound: signatures --------------------------------------------------------------------------


def _post(client, url_name, body: bytes, headers):
    return client.post(
        reverse(url_name),
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def command_body(**extra):
    fields = {
        "token": "deprecated",
        "team_id": TEAM_ID,
        "team_domain": "acme",
        "user_id": "U0CAROL",
        "user_name": "carol",
        "command": "/okr",
        "text": "",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "response_url": "",
        **extra,
    }
    return urllib.parse.urlencode(fields).encode()


def interaction_body(payload: dict) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def test_signature_checks(client, acme, carol_on_slack, kr, fake_chat):  # noqa: F811
    body = command_body()
    assert _post(client, "slack_commands", body, sign("wrong-secret", body)).status_code == 401
    stale = sign(SIGNING_SECRET, body, int(time.time()) - 6 * 60)
    assert _post(client, "slack_commands", body, stale).status_code == 401
    assert _post(client, "slack_commands", body, {}).status_code == 401
    headers = sign(SIGNING_SECRET, body)
    assert _post(client, "slack_commands", body, headers).status_code == 200
    assert _post(client, "slack_commands", body, headers).status_code == 401  # exact replay
    tampered = command_body(user_id="U0OTHER")
    assert _post(client, "slack_commands", tampered, headers).status_code == 401
    unknown = command_body(team_id="T0NOBODY")
    assert (
        _post(client, "slack_commands", unknown, sign(SIGNING_SECRET, unknown)).status_code == 401
    )
    assert len(fake_chat.calls("views.open")) == 1  # only the valid request did anything


def test_an_invalid_signature_changes_nothing(client, acme, carol_on_slack, kr):
    body = interaction_body(_submission(kr, value="22", confidence="6"))
    response = _post(client, "slack_interactions", body, sign("wrong-secret", body))
    assert response.status_code == 401
    assert not CheckIn.objects.for_org(acme).exists()


# --- Inbound: /okr and the modal ------------------------------------------------------------------


def test_okr_lists_due_krs_and_opens_the_modal(client, acme, carol_on_slack, kr, kr2, fake_chat):  # noqa: F811
    ChannelPreference.objects.for_org(acme).update(slack_user_id="")  # found by email instead
    body = command_body()
    response = _post(client, "slack_commands", body, sign(SIGNING_SECRET, body))
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert kr.title in json.dumps(answer) and kr2.title in json.dumps(answer)
    assert fake_chat.calls("users.info")[0].form["user"] == "U0CAROL"
    opened = fake_chat.calls("views.open")[0].json
    assert opened["trigger_id"] == "13345224609.738474920.8088930838d88f008e0"
    view = opened["view"]
    assert view["callback_id"] == "okr_checkin"
    assert f"kr-{kr.pk}-value" in [b.get("block_id") for b in view["blocks"]]
    assert json.loads(view["private_metadata"]) == {"kr_ids": [kr.pk, kr2.pk]}


def test_okr_from_someone_unknown(client, acme, connected, fake_chat):  # noqa: F811
    body = command_body(user_id="U0STRANGER")
    answer = _post(client, "slack_commands", body, sign(SIGNING_SECRET, body)).json()
    assert "not linked" in answer["text"]
    assert fake_chat.calls("views.open") == []


def _submission(kr, *, value, confidence="7", note="", kr_ids=None, user="U0CAROL"):
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": user, "team_id": TEAM_ID},
        "view": {
            "id": "V0001",
            "callback_id": "okr_checkin",
            "private_metadata": json.dumps({"kr_ids": kr_ids or [kr.pk]}),
            "state": {
                "values": {
                    f"kr-{kr.pk}-value": {"value": {"type": "plain_text_input", "value": value}},
                    f"kr-{kr.pk}-confidence": {
                        "confidence": {
                            "type": "static_select",
                            "selected_option": {"value": confidence} if confidence else None,
                        }
                    },
                    f"kr-{kr.pk}-note": {"note": {"type": "plain_text_input", "value": note}},
                }
            },
        },
    }


def _interact(client, payload):
    body = interaction_body(payload)
    return _post(client, "slack_interactions", body, sign(SIGNING_SECRET, body))


def test_the_modal_records_check_ins(client, acme, carol_on_slack, kr, kr2):
    payload = _submission(
        kr, value="22", confidence="6", note="Fewer tickets", kr_ids=[kr.pk, kr2.pk]
    )
    payload["view"]["state"]["values"][f"kr-{kr2.pk}-value"] = {
        "value": {"type": "plain_text_input", "value": "64"}
    }
    payload["view"]["state"]["values"][f"kr-{kr2.pk}-confidence"] = {
        "confidence": {"type": "static_select", "selected_option": {"value": "8"}}
    }
    response = _interact(client, payload)
    assert response.status_code == 200 and response.json() == {"response_action": "clear"}
    checkins = {c.key_result_id: c for c in CheckIn.objects.for_org(acme)}
    assert checkins[kr.pk].value == D(22) and checkins[kr.pk].confidence == 6
    assert checkins[kr.pk].note == "Fewer tickets"
    assert checkins[kr.pk].recorded_by_id == carol_on_slack.pk
    assert checkins[kr2.pk].value == D(64) and checkins[kr2.pk].confidence == 8


def test_bad_values_come_back_as_field_errors(client, acme, carol_on_slack, kr):
    answer = _interact(client, _submission(kr, value="twenty")).json()
    assert answer["response_action"] == "errors"
    assert "number" in answer["errors"][f"kr-{kr.pk}-value"]
    answer = _interact(client, _submission(kr, value="20", confidence=None)).json()
    assert f"kr-{kr.pk}-confidence" in answer["errors"]
    answer = _interact(client, _submission(kr, value="")).json()
    assert "at least one" in answer["errors"][f"kr-{kr.pk}-value"]
    assert not CheckIn.objects.for_org(acme).exists()


def test_a_service_refusal_is_a_field_error(client, acme, carol, kr, connected, fake_chat):  # noqa: F811
    """Someone else (erin) may not check in on carol's KR: the service's message shows."""
    from tests.factories import MembershipFactory, UserFactory

    erin = MembershipFactory(organization=acme, user=UserFactory(email="erin@acme.example"))
    integrations._remember_slack_user(acme, erin, "U0ERIN")
    answer = _interact(client, _submission(kr, value="20", user="U0ERIN")).json()
    assert answer["response_action"] == "errors"
    assert "owner or their manager" in answer["errors"][f"kr-{kr.pk}-value"]
    assert not CheckIn.objects.for_org(acme).exists()


def test_another_organisations_kr_is_ignored(client, acme, globex, mallory, carol_on_slack, kr):
    from cycles import services as okr

    other = okr.cycle_create(
        org=globex, by=mallory, name="G", start_date=kr.objective.cycle.start_date,
        end_date=kr.objective.cycle.end_date,
    )  # fmt: skip
    payload = _submission(kr, value="20")
    payload["view"]["private_metadata"] = json.dumps({"kr_ids": [kr.pk + 1000]})
    answer = _interact(client, payload).json()
    assert answer["response_action"] == "errors"
    assert not CheckIn.objects.for_org(acme).exists() and other.pk


def test_a_block_action_checks_in_one_value(client, acme, carol_on_slack, kr, fake_chat):  # noqa: F811
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0CAROL"},
        "trigger_id": "1.2.3",
        "response_url": fake_chat.url + "/hooks/response-url",
        "actions": [
            {
                "type": "plain_text_input",
                "action_id": "okr_checkin_value",
                "block_id": f"kr-{kr.pk}-quick",
                "value": "18",
            }
        ],
    }
    assert _interact(client, payload).status_code == 200
    checkin = CheckIn.objects.for_org(acme).get()
    assert checkin.value == D(18) and checkin.confidence == kr.confidence
    reply = fake_chat.calls("response-url")[0].json
    assert reply["response_type"] == "ephemeral" and "18" in reply["text"]


def test_the_check_in_button_opens_the_modal(client, acme, carol_on_slack, kr, fake_chat):  # noqa: F811
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0CAROL"},
        "trigger_id": "9.8.7",
        "actions": [{"type": "button", "action_id": "okr_open_checkin", "block_id": "b"}],
    }
    assert _interact(client, payload).status_code == 200
    assert fake_chat.calls("views.open")[0].json["trigger_id"] == "9.8.7"


# --- Secrets at rest ------------------------------------------------------------------------------


def _raw_integration(pk):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT slack_bot_token, slack_signing_secret, teams_webhook_url "  # noqa: S608
            f"FROM {Integration._meta.db_table} WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_credentials_are_encrypted_in_the_database(acme, connected):  # noqa: F811
    integration = Integration.objects.for_org(acme).get()
    stored = _raw_integration(integration.pk)
    plain = (BOT_TOKEN, SIGNING_SECRET, integration.teams_webhook_url)
    assert all(plain), plain
    for value, secret in zip(stored, plain, strict=True):
        assert secret not in value and value.startswith("gAAAAA")
    assert (
        integration.slack_bot_token,
        integration.slack_signing_secret,
    ) == (BOT_TOKEN, SIGNING_SECRET)


def test_the_migration_encrypts_credentials_stored_in_plaintext(acme, connected):  # noqa: F811
    import importlib

    from django.db import connection

    integration = Integration.objects.for_org(acme).get()
    webhook = integration.teams_webhook_url
    with connection.cursor() as cursor:  # as the rows were before the migration
        cursor.execute(
            f"UPDATE {Integration._meta.db_table} SET slack_bot_token = %s, "  # noqa: S608
            "slack_signing_secret = %s, teams_webhook_url = %s WHERE id = %s",
            [BOT_TOKEN, SIGNING_SECRET, webhook, integration.pk],
        )
    migration = importlib.import_module("checkins.migrations.0009_encrypt_integration_secrets")
    from types import SimpleNamespace

    from django.apps import apps

    editor = SimpleNamespace(connection=connection)  # all the data step uses of the editor
    migration.encrypt(apps, editor)
    once = _raw_integration(integration.pk)
    migration.encrypt(apps, editor)  # a second run leaves tokens alone
    assert _raw_integration(integration.pk) == once
    assert BOT_TOKEN not in "".join(once) and SIGNING_SECRET not in "".join(once)
    integration.refresh_from_db()
    assert (integration.slack_bot_token, integration.teams_webhook_url) == (BOT_TOKEN, webhook)

    migration.decrypt(apps, editor)
    assert _raw_integration(integration.pk) == (BOT_TOKEN, SIGNING_SECRET, webhook)
