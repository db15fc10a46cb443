"""“SSO required” closes every password door: invitations, password reset, sign-up.

Runs the real OpenID Connect flow against the local provider (tests/oidc_provider.py).
Admins keep their password as the recovery path (docs/sso.md).
"""

import html
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.core import mail
from django.urls import reverse

from okrapp import services as core
from okrapp.models import Invitation, Membership, TeamMembership, User
from okrapp.sso import services as sso
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.oidc_provider import OidcProvider

pytestmark = pytest.mark.django_db

CLIENT_ID = "okrapp-acme"
CLIENT_SECRET = "idp-issued-secret-for-required-tests"
CALLBACK = "http://testserver/accounts/oidc/org-acme/login/callback/"


@pytest.fixture
def idp():
    with OidcProvider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK]
    ) as provider:
        yield provider


@pytest.fixture
def required(acme, alice, idp):
    return sso.sso_configure(
        org=acme,
        by=alice,
        values=sso.SsoSettings(
            oidc_issuer=idp.issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            allowed_domains="acme.example",
            sso_required=True,
        ),
    )


def _through_idp(client, idp, start, claims):
    idp.user = claims
    assert start.status_code == 302, start.content[:500]
    at_idp = requests.get(start.url, allow_redirects=False, timeout=5)
    assert at_idp.status_code == 302, at_idp.text
    back = urlparse(at_idp.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def _signed_in(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def _invitation_path(invitation):
    return reverse("invitation_accept", args=[invitation.token])


# --- Invitations -------------------------------------------------------------------------------


def test_an_invited_newcomer_gets_no_password_form_and_joins_through_the_idp(
    client, required, acme, alice, engineering, idp
):
    invitation = core.invitation_create(
        org=acme, by=alice, email="dave@acme.example", role="manager", team=engineering
    )
    path = _invitation_path(invitation)
    page = client.get(path)
    body = page.content.decode()
    assert page.status_code == 200
    assert 'type="password"' not in body
    assert "requires single sign-on" in body and "No password is needed" in body
    assert reverse("sso_login") in body

    # Posting a password anyway creates nothing.
    response = client.post(
        path,
        {
            "full_name": "Dave",
            "password": "a-long-pass-phrase",
            "password_again": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 400
    assert "requires single sign-on" in response.content.decode()
    assert not User.objects.filter(email="dave@acme.example").exists()
    assert _signed_in(client) is None

    # The page's button leads to the SSO form, filled in with the invited address.
    link = html.unescape(re.search(r'href="(/accounts/sso/\?[^"]+)"', body).group(1))
    sso_page = client.get(link).content.decode()
    assert 'value="dave@acme.example"' in sso_page and 'value="/acme/"' in sso_page
    query = parse_qs(urlparse(link).query)
    start = client.post(
        reverse("sso_login"),
        {"organization": query["organization"][0], "next": query["next"][0]},
    )
    response = _through_idp(
        client,
        idp,
        start,
        {"sub": "idp-dave", "email": "dave@acme.example", "email_verified": True, "name": "Dave"},
    )
    assert response.status_code == 302 and response.url == "/acme/"
    dave = User.objects.get(email="dave@acme.example")
    assert _signed_in(client) == dave and not dave.has_usable_password()
    membership = Membership.objects.for_org(acme).get(user=dave)
    assert membership.role == "manager"  # the invitation's role, not the just-in-time default
    assert TeamMembership.objects.for_org(acme).filter(membership=membership, team=engineering)
    invitation.refresh_from_db()
    assert invitation.accepted_by == membership
    assert client.get(path).status_code == 410


def test_an_invited_address_the_idp_cannot_sign_in_is_told_what_to_do(
    client, required, acme, alice
):
    invitation = core.invitation_create(org=acme, by=alice, email="pat@freelance.example")
    path = _invitation_path(invitation)
    body = client.get(path).content.decode()
    assert "does not sign in freelance.example addresses" in body
    assert 'type="password"' not in body and reverse("sso_login") not in body
    response = client.post(
        path, {"full_name": "Pat", "password": "x" * 20, "password_again": "x" * 20}
    )
    assert response.status_code == 400
    assert not User.objects.filter(email="pat@freelance.example").exists()


def test_an_invited_admin_still_sets_a_password(client, required, acme, alice, password):
    invitation = core.invitation_create(org=acme, by=alice, email="ada@acme.example", role="admin")
    path = _invitation_path(invitation)
    assert 'type="password"' in client.get(path).content.decode()
    response = client.post(
        path, {"full_name": "Ada", "password": password, "password_again": password}
    )
    assert response.status_code == 302
    assert Membership.objects.for_org(acme).get(user__email="ada@acme.example").role == "admin"


def test_a_password_session_of_an_account_with_no_organisation_cannot_accept(
    client, required, acme, alice, password, idp
):
    # Dave signed up on his own (a password, no organisation) before he was invited.
    response = client.post(
        reverse("account_signup"),
        {"email": "dave@acme.example", "password1": password, "password2": password,
         "full_name": "Dave"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:1500]
    assert _signed_in(client).email == "dave@acme.example"
    invitation = core.invitation_create(org=acme, by=alice, email="dave@acme.example")
    path = _invitation_path(invitation)
    response = client.post(path)
    assert response.status_code == 400
    assert "requires single sign-on" in response.content.decode()
    assert not Membership.objects.for_org(acme).filter(user__email="dave@acme.example").exists()

    # Through the IdP the same account is linked and the invitation accepted.
    start = client.post(reverse("sso_login"), {"organization": "acme"})
    _through_idp(
        client,
        idp,
        start,
        {"sub": "idp-dave", "email": "dave@acme.example", "email_verified": True},
    )
    assert Membership.objects.for_org(acme).get(user__email="dave@acme.example").active


def test_an_account_other_organisations_trust_accepts_while_signed_in(
    client, login, required, acme, alice
):
    globex = OrganizationFactory(name="Globex", slug="globex")
    frank = MembershipFactory(organization=globex, user=UserFactory(email="frank@acme.example"))
    invitation = core.invitation_create(org=acme, by=alice, email="frank@acme.example")
    page = client.get(_invitation_path(invitation)).content.decode()
    assert "Log in as you usually do" in page and reverse("sso_login") not in page
    assert reverse("account_login") + "?next=" in page
    login(frank)
    response = client.post(_invitation_path(invitation))
    assert response.status_code == 302
    assert Membership.objects.for_org(acme).get(user=frank.user).active
    # From now on Acme's policy applies to him: his password no longer signs him in.
    assert sso.sso_required_for(frank.user) == acme


def test_a_former_member_invited_back_comes_in_through_the_idp(
    client, required, acme, alice, carol, idp
):
    Membership.objects.for_org(acme).filter(pk=carol.pk).update(active=False)
    Invitation.objects.create(organization=acme, email=carol.user.email, invited_by=alice)
    start = client.post(reverse("sso_login"), {"organization": "acme"})
    response = _through_idp(
        client,
        idp,
        start,
        {"sub": "idp-carol", "email": "carol@acme.example", "email_verified": True},
    )
    assert response.url == "/acme/"
    assert _signed_in(client) == carol.user
    carol.refresh_from_db()
    assert carol.active


# --- Password reset and sign-up ---------------------------------------------------------------


def test_a_password_reset_does_not_sign_a_member_in(client, settings, required, carol, alice):
    settings.ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
    new_password = "a-brand-new-pass-phrase-9"
    for person, signed_in in ((carol, False), (alice, True)):
        client.logout()
        mail.outbox.clear()
        client.post(reverse("account_reset_password"), {"email": person.user.email})
        link = re.search(r"https?://[^/\s]+(/\S+/password/reset/key/\S+)", mail.outbox[0].body)
        form_url = client.get(link.group(1)).url  # allauth moves the key into the session
        response = client.post(form_url, {"password1": new_password, "password2": new_password})
        assert response.status_code == 302
        if signed_in:  # the admin's recovery path
            assert _signed_in(client) == alice.user
        else:
            assert _signed_in(client) is None
            assert response.url == reverse("sso_login")
            page = client.get(response.url).content.decode()
            assert "requires single sign-on" in page
            # The new password does not open the password login either.
            response = client.post(
                reverse("account_login"), {"login": person.user.email, "password": new_password}
            )
            assert response.status_code == 400 and _signed_in(client) is None
