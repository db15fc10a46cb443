"""Invitations: an admin invites by email; a single-use link valid for 7 days joins."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from okrapp import services
from okrapp.models import Invitation, Membership, TeamMembership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(client, django_capture_on_commit_callbacks):
    """POST the invitation form; the mail task runs when the transaction commits."""

    def _invite(org, **data):
        payload = {"email": "newbie@acme.example", "role": "member", "team": ""}
        payload.update(data)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("member_invite", kwargs={"org_slug": org.slug}), payload)

    return _invite


def _link_path(message) -> str:
    url = re.search(r"https?://\S+/invitations/[^/\s]+/", message.body).group(0)
    return "/" + url.split("/", 3)[3]


def test_admin_invites_and_the_mail_holds_a_working_link(
    client, login, invite, alice, acme, engineering
):
    login(alice)
    response = invite(acme, role="manager", team=engineering.pk)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newbie@acme.example"]
    assert "Acme Robotics" in message.subject + message.body
    assert message.alternatives and "text/html" in message.alternatives[0][1]

    client.logout()
    path = _link_path(message)
    page = client.get(path)
    assert page.status_code == 200
    assert "Acme Robotics" in page.content.decode()

    response = client.post(
        path,
        {
            "full_name": "Nina New",
            "password": "a-good-long-secret-9",
            "password_again": "a-good-long-secret-9",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="newbie@acme.example")
    membership = Membership.objects.for_org(acme).get(user=user)
    assert membership.role == "manager"
    assert (
        TeamMembership.objects.for_org(acme)
        .filter(team=engineering, membership=membership)
        .exists()
    )
    # Signed in straight away.
    assert client.get(f"/{acme.slug}/").status_code == 200
    # Single use.
    client.logout()
    again = client.get(path)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_the_new_password_is_checked_and_the_name_kept(client, alice, acme):
    invitation = services.invitation_create(org=acme, by=alice, email="weak@acme.example")
    response = client.post(
        reverse("invitation_accept", args=[invitation.token]),
        {"full_name": "Wes Weak", "password": "123", "password_again": "123"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Wes Weak" in body
    assert "too short" in body
    assert not User.objects.filter(email="weak@acme.example").exists()


def test_an_existing_account_logs_in_then_accepts(client, login, alice, mallory, acme):
    invitation = services.invitation_create(org=acme, by=alice, email=mallory.user.email)
    path = reverse("invitation_accept", args=[invitation.token])
    page = client.get(path)
    assert "Log in" in page.content.decode()
    login(mallory)
    response = client.post(path)
    assert response.status_code == 302
    assert Membership.objects.for_org(acme).filter(user=mallory.user, active=True).exists()


def test_signed_in_as_someone_else_cannot_accept(client, login, alice, carol, acme):
    invitation = services.invitation_create(org=acme, by=alice, email="other@acme.example")
    login(carol)
    response = client.post(reverse("invitation_accept", args=[invitation.token]))
    assert response.status_code == 200
    assert "other@acme.example" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_reinviting_a_member_is_refused_with_a_message(client, login, invite, alice, carol, acme):
    login(alice)
    response = invite(acme, email="CAROL@acme.example")
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert mail.outbox == []


def test_reinviting_a_pending_address_renews_the_link(client, login, invite, alice, acme):
    login(alice)
    invite(acme)
    invite(acme, role="manager")
    assert len(mail.outbox) == 2
    assert Invitation.objects.for_org(acme).count() == 1
    old, new = _link_path(mail.outbox[0]), _link_path(mail.outbox[1])
    assert old != new
    client.logout()
    stale = client.get(old)
    assert stale.status_code == 410
    assert "replaced by a newer one" in stale.content.decode()
    assert client.get(new).status_code == 200
    assert Invitation.objects.for_org(acme).get().role == "manager"


@pytest.mark.parametrize("email", ["not-an-address", "a@", "@b.com", "two@@ats.com", ""])
def test_a_malformed_address_gets_a_message(client, login, invite, alice, acme, email):
    login(alice)
    response = invite(acme, email=email)
    assert response.status_code == 400
    body = response.content.decode()
    assert "valid email address" in body or "required" in body
    assert not Invitation.objects.for_org(acme).exists()


def test_an_expired_link_says_so(client, alice, acme):
    invitation = services.invitation_create(org=acme, by=alice, email="late@acme.example")
    Invitation.objects.for_org(acme).filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = client.get(reverse("invitation_accept", args=[invitation.token]))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    response = client.post(
        reverse("invitation_accept", args=[invitation.token]),
        {
            "full_name": "L",
            "password": "a-good-long-secret-9",
            "password_again": "a-good-long-secret-9",
        },
    )
    assert response.status_code == 410
    assert not User.objects.filter(email="late@acme.example").exists()


def test_links_are_valid_for_seven_days(alice, acme):
    invitation = services.invitation_create(org=acme, by=alice, email="week@acme.example")
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)


@pytest.mark.parametrize(("days", "said"), [(3, "3 days"), (1, "1 day")])
def test_the_validity_said_in_the_mail_and_pages_follows_the_setting(
    client, login, invite, alice, acme, days, said
):
    """The link's life is ``INVITATION_VALID_DAYS``; the mail, the page and the message say
    what it is, not a number written into the text."""
    login(alice)
    with override_settings(INVITATION_VALID_DAYS=days):
        page = client.get(reverse("member_invite", kwargs={"org_slug": acme.slug}))
        response = invite(acme, email="three@acme.example")
        shown = client.get(response.url).content.decode()  # with the success message
    assert response.status_code == 302
    invitation = Invitation.objects.for_org(acme).get(email="three@acme.example")
    left = invitation.expires_at - timezone.now()
    assert timedelta(days=days, minutes=-5) < left <= timedelta(days=days)
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    for text in (message.body, html, page.content.decode(), shown):
        assert re.search(rf"valid for {said}\b", " ".join(text.split())), text
        assert "7 days" not in text
    assert f"Invitation sent to three@acme.example. The link is valid for {said}." in shown


@pytest.mark.parametrize("token", ["garbage", "eyJpIjoxfQ:abc:def"])
def test_a_forged_or_garbled_link_is_404(client, token):
    response = client.get(reverse("invitation_accept", args=[token]))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_a_withdrawn_invitation_cannot_be_used(client, login, alice, acme):
    invitation = services.invitation_create(org=acme, by=alice, email="gone@acme.example")
    login(alice)
    client.post(
        reverse("invitation_revoke", kwargs={"org_slug": "acme", "invitation_id": invitation.pk})
    )
    client.logout()
    response = client.get(reverse("invitation_accept", args=[invitation.token]))
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()


def test_a_former_member_invited_back_is_reactivated(alice, carol, acme):
    services.membership_deactivate(org=acme, by=alice, membership=carol)
    invitation = services.invitation_create(org=acme, by=alice, email=carol.user.email)
    membership = services.invitation_accept(invitation=invitation, user=carol.user)
    assert membership.pk == carol.pk
    assert membership.active


def test_only_admins_invite(bob, acme):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.invitation_create(org=acme, by=bob, email="x@acme.example")
