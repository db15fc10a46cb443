"""Single sign-on: the whole SAML 2.0 round trip through django-allauth's SAML provider.

Our login page → AuthnRequest (HTTP-Redirect) → the test IdP (tests/saml_idp.py) reads it
and signs a Response for the requested ACS URL and InResponseTo → POST to allauth's ACS →
signed in. python3-saml checks the signature against the certificate in the IdP metadata
the admin entered; nothing of okrapp, allauth or python3-saml is mocked.
"""

from urllib.parse import urlparse

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from okrapp.models import Membership, User
from okrapp.sso import services as sso
from tests.saml_idp import SamlIdp

pytestmark = pytest.mark.django_db

# python3-saml builds URLs from the Host header and wants a dotted host name.
HOST = "okr.example.com"
ACS = f"http://{HOST}/accounts/saml/org-acme/acs/"


@pytest.fixture
def browser(settings):
    settings.ALLOWED_HOSTS = [HOST]
    return Client(HTTP_HOST=HOST)


@pytest.fixture
def idp():
    return SamlIdp()


def _configure(org, admin, idp, **overrides):
    values = {"saml_metadata_xml": idp.metadata(), "allowed_domains": "acme.example", **overrides}
    return sso.sso_configure(org=org, by=admin, values=sso.SsoSettings(**values))


@pytest.fixture
def acme_saml(acme, alice, idp):
    return _configure(acme, alice, idp)


def _start(browser, idp, who="acme"):
    start = browser.post(reverse("sso_login"), {"organization": who})
    assert start.status_code == 302, start.content[:500]
    request = idp.read_request(start.url)
    assert request.acs_url == ACS
    assert request.sp_entity_id == f"http://{HOST}/accounts/saml/org-acme/metadata/"
    return request


def _post_to_acs(browser, answer):
    """The browser's auto-submitting form: POST to the ACS, then allauth's finishing step."""
    acs = urlparse(answer.acs_url)
    assert acs.netloc == HOST
    posted = browser.post(acs.path, answer.data)
    assert posted.status_code == 302
    return browser.get(posted.url)


def sign_in_with_saml(browser, idp, who="acme", **answer):
    return _post_to_acs(browser, idp.answer(_start(browser, idp, who), **answer))


def _signed_in_user(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Signing in ----------------------------------------------------------------------------------


def test_an_existing_member_signs_in_through_the_saml_idp(browser, acme_saml, carol, idp):
    response = sign_in_with_saml(
        browser, idp, "carol@acme.example", email="Carol@acme.example", uid="saml-carol"
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == "/acme/"
    assert _signed_in_user(browser) == carol.user
    assert browser.get("/acme/").status_code == 200
    account = SocialAccount.objects.get(user=carol.user)
    assert (account.provider, account.uid) == ("org-acme", "saml-carol")

    # Again, now through the linked account.
    browser.logout()
    response = sign_in_with_saml(browser, idp, email="carol@acme.example", uid="saml-carol")
    assert response.url == "/acme/"
    assert _signed_in_user(browser) == carol.user
    assert SocialAccount.objects.filter(user=carol.user).count() == 1


def test_a_new_person_from_an_allowed_domain_joins_just_in_time(browser, acme_saml, acme, idp):
    response = sign_in_with_saml(
        browser, idp, "dave@acme.example", email="dave@acme.example", name="Dave Wu"
    )
    assert response.url == "/acme/"
    dave = User.objects.get(email="dave@acme.example")
    assert dave.full_name == "Dave Wu"
    assert not dave.has_usable_password()
    membership = Membership.objects.for_org(acme).get(user=dave)
    assert (membership.role, membership.active) == (Membership.Role.MEMBER, True)
    assert _signed_in_user(browser) == dave


def test_a_domain_that_is_not_allowed_is_refused(browser, acme_saml, idp):
    users_before = User.objects.count()
    response = sign_in_with_saml(browser, idp, email="eve@elsewhere.example", name="Eve")
    assert response.status_code == 302
    assert response.url == reverse("account_login")
    assert any("not open to elsewhere.example addresses" in m for m in _messages(response))
    assert _signed_in_user(browser) is None
    assert User.objects.count() == users_before
    assert not SocialAccount.objects.exists()
    page = browser.get(response.url)
    assert "not open to elsewhere.example addresses" in page.content.decode()


# --- SSO required --------------------------------------------------------------------------------


def test_sso_required_refuses_passwords_for_members_and_the_admin_recovers(
    browser, acme, alice, carol, idp, password
):
    _configure(acme, alice, idp, sso_required=True)
    response = browser.post(
        reverse("account_login"), {"login": "carol@acme.example", "password": password}
    )
    assert response.status_code == 400
    assert "requires single sign-on" in response.content.decode()
    assert _signed_in_user(browser) is None

    response = browser.post(
        reverse("account_login"), {"login": "alice@acme.example", "password": password}
    )
    assert response.status_code == 302
    assert _signed_in_user(browser) == alice.user
    browser.logout()

    response = sign_in_with_saml(browser, idp, email="carol@acme.example")
    assert response.url == "/acme/"
    assert _signed_in_user(browser) == carol.user


# --- Refused answers -----------------------------------------------------------------------------


def _refused(browser, response):
    assert response.status_code in (400, 401, 403), response.status_code
    assert _signed_in_user(browser) is None
    return response.content.decode()


def test_an_assertion_altered_after_signing_signs_nobody_in(browser, acme_saml, carol, alice, idp):
    # Signed for Carol, then edited to say Alice (the admin).
    answer = idp.answer(
        _start(browser, idp),
        email="carol@acme.example",
        tamper={"carol@acme.example": "alice@acme.example"},
    )
    assert "carol@" not in answer.xml
    page = _refused(browser, _post_to_acs(browser, answer))
    assert "Login Failure" in page
    assert not SocialAccount.objects.exists()


def test_an_unsigned_response_is_refused(browser, acme_saml, carol, idp):
    answer = idp.answer(_start(browser, idp), email="carol@acme.example", sign="none")
    _refused(browser, _post_to_acs(browser, answer))


def test_a_response_signed_by_another_key_is_refused(browser, acme_saml, carol, idp):
    answer = idp.answer(
        _start(browser, idp), email="carol@acme.example", signing_key=idp.other_key()
    )
    _refused(browser, _post_to_acs(browser, answer))


def test_a_signed_response_and_a_signed_message_are_both_accepted(browser, acme_saml, carol, idp):
    for sign in ("response", "both"):
        browser.logout()
        response = sign_in_with_saml(browser, idp, email="carol@acme.example", sign=sign)
        assert response.url == "/acme/"
        assert _signed_in_user(browser) == carol.user


def test_a_replayed_response_is_refused(browser, acme_saml, carol, idp):
    answer = idp.answer(_start(browser, idp), email="carol@acme.example")
    assert _post_to_acs(browser, answer).url == "/acme/"
    browser.logout()
    _refused(browser, _post_to_acs(browser, answer))


def test_an_answer_to_a_request_never_made_is_refused(browser, acme_saml, carol, idp):
    """IdP-initiated sign-in (no AuthnRequest of ours) is rejected: it has no state to
    bind the answer to this browser."""
    request = _start(browser, idp)
    forged = type(request)(
        id="_never-asked", acs_url=request.acs_url, sp_entity_id=request.sp_entity_id,
        relay_state=None,
    )  # fmt: skip
    _refused(browser, _post_to_acs(browser, idp.answer(forged, email="carol@acme.example")))
