"""Journey: a founder signs up, creates an organisation, states mission and vision and
invites a colleague, who accepts from the mail and logs in."""

import re

import pytest
from playwright.sync_api import Page, expect

from okrapp.models import Membership, Organization

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_set_up_an_organisation_and_invite_a_colleague(
    live_server, page: Page, log_in, log_out, mails
):
    base = live_server.url

    # Sign up.
    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=email]", "fay@initech.example")
    page.fill("input[name=full_name]", "Fay Founder")
    page.fill("input[name=password1]", "a-long-enough-passphrase")
    page.fill("input[name=password2]", "a-long-enough-passphrase")
    page.get_by_role("button", name="Create account").click()

    # Create the organisation.
    expect(page).to_have_url(re.compile(r"/orgs/new/$"))
    page.fill("input[name=name]", "Initech")
    page.fill("input[name=slug]", "initech")
    page.select_option("select[name=time_zone]", "Asia/Taipei")
    page.get_by_role("button", name="Create organisation").click()

    # Mission and vision, then on to inviting people.
    expect(page).to_have_url(re.compile(r"/initech/mission/$"))
    page.fill("textarea[name=mission]", "Make printers that never jam.")
    page.fill("textarea[name=vision]", "Every office jam-free by 2030.")
    page.get_by_role("button", name="Save and invite people").click()

    # Invite a colleague; a bad address first.
    expect(page).to_have_url(re.compile(r"/initech/members/invite/$"))
    page.fill("input[name=email]", "milton@initech")  # passes the browser, not the server
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".errorlist").first).to_be_visible()
    page.fill("input[name=email]", "milton@initech.example")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to milton@initech.example")).to_be_visible()

    org = Organization.objects.get(slug="initech")
    assert org.mission == "Make printers that never jam."
    assert len(mails.all()) == 1
    path = mails.link(mails.to("milton@initech.example")[0], "/invitations/")

    # The founder logs out; the colleague opens the link and joins.
    log_out()
    page.goto(f"{base}{path}")
    expect(page.get_by_text("Initech").first).to_be_visible()
    page.fill("input[name=full_name]", "Milton Waddams")
    page.fill("input[name=password]", "my-red-stapler-42")
    page.fill("input[name=password_again]", "my-red-stapler-42")
    page.get_by_role("button", name="Join Initech").click()
    expect(page).to_have_url(re.compile(r"/initech/$"))
    expect(page.get_by_text("Make printers that never jam.")).to_be_visible()

    # And logs in again later with the new password.
    log_out()
    log_in("milton@initech.example", password="my-red-stapler-42", lands_on=r"/initech/$")
    milton = Membership.objects.for_org(org).get(user__email="milton@initech.example")
    assert milton.role == Membership.Role.MEMBER and milton.active
