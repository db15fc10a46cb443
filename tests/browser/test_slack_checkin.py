"""Journey: a person checks in from Slack's modal (the payload posted to the live server
exactly as Slack would, signed) and then sees the value on the key result's page."""

import json
import urllib.parse
import urllib.request
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from checkins import integrations
from checkins.slack import sign
from cycles import services as okr
from cycles.models import Level

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def carols_kr(acme, carol, active_cycle):
    cycle = active_cycle()
    objective = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol, title="Calibrate"
    )
    return okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Cut help requests from 30 to 10",
        start_value=D(30),
        target_value=D(10),
        direction="decrease",
    )


def test_check_in_from_slack_and_see_it_on_the_kr_page(
    live_server, page: Page, log_in, acme, alice, carol, carols_kr
):
    integrations.integration_save(
        org=acme,
        by=alice,
        slack_team_id="T0ACME",
        slack_bot_token="xoxb-1-2-abc",
        slack_signing_secret=SECRET,
    )
    integrations._remember_slack_user(acme, carol, "U0CAROL")
    kr = carols_kr
    payload = {
        "type": "view_submission",
        "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": "U0CAROL", "team_id": "T0ACME"},
        "view": {
            "id": "V0001",
            "callback_id": "okr_checkin",
            "private_metadata": json.dumps({"kr_ids": [kr.pk]}),
            "state": {
                "values": {
                    f"kr-{kr.pk}-value": {"value": {"type": "plain_text_input", "value": "23.5"}},
                    f"kr-{kr.pk}-confidence": {
                        "confidence": {"type": "static_select", "selected_option": {"value": "7"}}
                    },
                    f"kr-{kr.pk}-note": {
                        "note": {"type": "plain_text_input", "value": "Sent from Slack"}
                    },
                }
            },
        },
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    request = urllib.request.Request(  # noqa: S310 - the live server
        f"{live_server.url}/integrations/slack/interactions",
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert json.loads(response.read()) == {"response_action": "clear"}

    log_in(carol)
    page.goto(f"{live_server.url}/acme/key-results/{kr.pk}/")
    expect(page.locator(".timeline-value").first).to_contain_text("23.5")
    expect(page.locator(".timeline-note").first).to_have_text("Sent from Slack")
