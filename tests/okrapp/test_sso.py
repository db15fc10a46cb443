"""Single sign-on: a real OpenID Connect flow against a local identity provider.

The provider (tests/oidc_provider.py) runs in a thread on 127.0.0.1; the Django test client
goes to it and back like a browser, and allauth calls its token, userinfo and JWKS endpoints
over HTTP. Nothing of okrapp is mocked.
"""

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialApp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from okrapp.models import Membership, User
from okrapp.sso import services as sso
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.oidc_provider import OidcProvider

pytestmark = pytest.mark.django_db

CLIENT_ID = "okrapp-acme"
CLIENT_SECRET = "idp-issued-secret-7f3a9c2e41-wxyz"
CALLBACK = "http://testserver/accounts/oidc/org-acme/login/callback/"


@pytest.fixture
def idp():
    with OidcProvider(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK]
    ) as provider:
        yield provider


def _configure(org, admin, idp, **overrides):
    values = {
        "oidc_issuer": idp.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "allowed_domains": "acme.example",
        **overrides,
    }
    return sso.sso_configure(org=org, by=admin, values=sso.SsoSettings(**values))


@pytest.fixture
def acme_sso(acme, alice, idp):
    return _configure(acme, alice, idp)


def _person(sub, email, name="Someone"):
    return {"sub": sub, "email": email, "email_verified": True, "name": name}


def _through_idp(client, idp, start_response):
    """Follow the redirect to the IdP (auto-approving idp.user) and back to the callback."""
    assert start_response.status_code == 302, start_response.content[:500]
    assert start_response.url.startswith(f"{idp.issuer}/authorize?")
    at_idp = requests.get(start_response.url, allow_redirects=False, timeout=5)
    assert at_idp.status_code == 302, at_idp.text
    back = urlparse(at_idp.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return client.get(f"{back.path}?{back.query}")


def sign_in_with_sso(client, idp, who, claims):
    idp.user = claims
    return _through_idp(client, idp, client.post(reverse("sso_login"), {"organization": who}))


def _signed_in_user(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Signing in ----------------------------------------------------------------------------------


def test_an_existing_member_signs_in_through_the_org_idp(client, acme_sso, carol, idp):
    response = sign_in_with_sso(
        client, idp, "carol@acme.example", _person("idp-carol", "Carol@Acme.example")
    )
    assert response.status_code == 302
    assert response.url == "/acme/"
    assert _signed_in_user(client) == carol.user
    assert client.get("/acme/").status_code == 200
    account = SocialAccount.objects.get(user=carol.user)
    assert (account.provider, account.uid) == ("org-acme", "idp-carol")
    # The IdP was really talked to: code exchanged, keys and user info fetched.
    assert {"POST /token", "GET /userinfo", "GET /.well-known/openid-configuration"} <= set(
        idp.requests
    )

    # Again, now through the linked account (and the org's address instead of an email).
    client.logout()
    response = sign_in_with_sso(client, idp, "acme", _person("idp-carol", "carol@acme.example"))
    assert response.url == "/acme/"
    assert _signed_in_user(client) == carol.user
    assert SocialAccount.objects.filter(user=carol.user).count() == 1


def test_allauths_own_login_url_runs_the_same_flow(client, acme_sso, carol, idp):
    idp.user = _person("idp-carol", "carol@acme.example")
    start = client.post("/accounts/oidc/org-acme/login/", {"next": "/acme/my-week/"})
    response = _through_idp(client, idp, start)
    assert response.status_code == 302
    assert response.url == "/acme/my-week/"
    assert _signed_in_user(client) == carol.user


def test_a_new_person_from_an_allowed_domain_joins_just_in_time(client, acme_sso, acme, idp):
    response = sign_in_with_sso(
        client, idp, "dave@acme.example", _person("idp-dave", "dave@acme.example", "Dave Wu")
    )
    assert response.status_code == 302
    assert response.url == "/acme/"
    dave = User.objects.get(email="dave@acme.example")
    assert dave.full_name == "Dave Wu"
    assert not dave.has_usable_password()
    membership = Membership.objects.for_org(acme).get(user=dave)
    assert (membership.role, membership.active) == (Membership.Role.MEMBER, True)
    assert membership.time_zone == acme.time_zone
    assert _signed_in_user(client) == dave
    assert client.get("/acme/").status_code == 200


def test_a_domain_that_is_not_allowed_is_refused(client, acme_sso, idp):
    users_before = User.objects.count()
    response = sign_in_with_sso(
        client, idp, "acme", _person("idp-eve", "eve@elsewhere.example", "Eve")
    )
    assert response.status_code == 302
    assert response.url == reverse("account_login")
    assert any("not open to elsewhere.example addresses" in m for m in _messages(response))
    assert _signed_in_user(client) is None
    assert User.objects.count() == users_before
    assert not SocialAccount.objects.exists()
    page = client.get(response.url)
    assert "not open to elsewhere.example addresses" in page.content.decode()


def test_an_account_other_organisations_trust_is_not_handed_to_this_idp(
    client, acme_sso, acme, idp
):
    globex = OrganizationFactory(name="Globex", slug="globex")
    frank = MembershipFactory(organization=globex, user=UserFactory(email="frank@acme.example"))
    response = sign_in_with_sso(client, idp, "acme", _person("idp-frank", "frank@acme.example"))
    assert response.url == reverse("account_login")
    assert any("already exists" in m for m in _messages(response))
    assert _signed_in_user(client) is None
    assert not SocialAccount.objects.filter(user=frank.user).exists()
    assert not Membership.objects.for_org(acme).filter(user=frank.user).exists()


def test_a_deactivated_member_is_not_let_back_in(client, acme_sso, acme, carol, idp):
    Membership.objects.for_org(acme).filter(pk=carol.pk).update(active=False)
    response = sign_in_with_sso(client, idp, "acme", _person("idp-carol", "carol@acme.example"))
    assert response.url == reverse("account_login")
    assert any("was removed" in m for m in _messages(response))
    assert _signed_in_user(client) is None


def test_a_tampered_callback_signs_nobody_in(client, acme_sso, carol, idp):
    idp.user = _person("idp-carol", "carol@acme.example")
    start = client.post(reverse("sso_login"), {"organization": "acme"})
    at_idp = requests.get(start.url, allow_redirects=False, timeout=5)
    back = urlparse(at_idp.headers["Location"])
    query = parse_qs(back.query)
    response = client.get(back.path, {"code": query["code"][0], "state": "forged"})
    assert _signed_in_user(client) is None
    assert response.status_code == 401


def test_the_sso_form_names_no_unconfigured_organisation(client, acme, globex):
    for who in ("globex", "someone@nowhere.example", "acme"):
        response = client.post(reverse("sso_login"), {"organization": who})
        assert response.status_code == 400
        assert "No single sign-on is set up" in response.content.decode()


def test_the_login_page_offers_sso_without_listing_organisations(client, acme_sso):
    page = client.get(reverse("account_login")).content.decode()
    assert "Sign in with your organisation" in page
    assert reverse("sso_login") in page
    assert "Acme" not in page and "org-acme" not in page


# --- SSO required ---------------------------------------------------------------------------------


def test_sso_required_refuses_password_login_for_members_but_admins_recover(
    client, acme, alice, carol, idp, password
):
    _configure(acme, alice, idp, sso_required=True)
    response = client.post(
        reverse("account_login"), {"login": "carol@acme.example", "password": password}
    )
    assert response.status_code == 400
    assert "requires single sign-on" in response.content.decode()
    assert _signed_in_user(client) is None

    # A wrong password still only says the password is wrong.
    response = client.post(
        reverse("account_login"), {"login": "carol@acme.example", "password": "nope"}
    )
    assert "not correct" in response.content.decode()

    # The admin's password keeps working: the way back in when the IdP is down.
    response = client.post(
        reverse("account_login"), {"login": "alice@acme.example", "password": password}
    )
    assert response.status_code == 302
    assert _signed_in_user(client) == alice.user
    client.logout()

    # Carol comes in through the IdP.
    response = sign_in_with_sso(client, idp, "acme", _person("idp-carol", "carol@acme.example"))
    assert response.url == "/acme/"
    assert _signed_in_user(client) == carol.user


def test_password_login_is_untouched_while_sso_is_optional(client, acme_sso, carol, password):
    response = client.post(
        reverse("account_login"), {"login": "carol@acme.example", "password": password}
    )
    assert response.status_code == 302


# --- The admin page ------------------------------------------------------------------------------


def _page_data(idp, **overrides):
    return {
        "oidc_issuer": idp.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "saml_metadata_url": "",
        "saml_metadata_xml": "",
        "allowed_domains": "acme.example\n@Acme-Robotics.example",
        **overrides,
    }


def test_the_sso_page_is_for_admins_only(login, alice, carol, mallory, acme):
    url = reverse("org_sso", kwargs={"org_slug": "acme"})
    assert login(mallory).get(url).status_code == 404
    assert login(carol).get(url).status_code == 403
    assert login(carol).post(url, {}).status_code == 403
    assert login(alice).get(url).status_code == 200


def test_an_admin_sets_up_oidc_and_the_secret_is_never_shown(login, alice, acme, idp):
    client = login(alice)
    url = reverse("org_sso", kwargs={"org_slug": "acme"})
    response = client.post(url, _page_data(idp))
    assert response.status_code == 302, response.content.decode()[:2000]
    app = SocialApp.objects.get(provider="openid_connect", provider_id="org-acme")
    # The secret is kept encrypted by okrapp, not in allauth's plaintext column.
    assert (app.client_id, app.secret) == (CLIENT_ID, "")
    assert sso.sso_configuration_for(acme).oidc_client_secret == CLIENT_SECRET
    assert app.settings["server_url"] == idp.issuer
    assert sso.sso_domains_of(acme) == ["acme-robotics.example", "acme.example"]

    page = client.get(url).content.decode()
    assert CLIENT_SECRET not in page
    assert CLIENT_SECRET[:12] not in page
    assert "http://127.0.0.1:8000/accounts/oidc/org-acme/login/callback/" in page
    assert CLIENT_ID in page

    # Saving without typing the secret again keeps it.
    response = client.post(
        url, _page_data(idp, oidc_client_secret="", allowed_domains="acme.example")
    )
    assert response.status_code == 302
    assert sso.sso_configuration_for(acme).oidc_client_secret == CLIENT_SECRET
    assert sso.sso_domains_of(acme) == ["acme.example"]

    # A refused form does not echo the secret either.
    response = client.post(url, _page_data(idp, allowed_domains=""))
    assert response.status_code == 400
    assert CLIENT_SECRET not in response.content.decode()

    # Clearing OpenID Connect removes allauth's app.
    response = client.post(
        url, _page_data(idp, oidc_issuer="", oidc_client_id="", oidc_client_secret="")
    )
    assert response.status_code == 302
    assert not SocialApp.objects.filter(provider_id="org-acme").exists()


def test_an_unreachable_or_wrong_issuer_is_reported(login, alice, idp):
    client = login(alice)
    url = reverse("org_sso", kwargs={"org_slug": "acme"})
    response = client.post(url, _page_data(idp, oidc_issuer=f"{idp.issuer}/wrong"))
    assert response.status_code == 400
    assert "Could not read" in response.content.decode()
    assert not SocialApp.objects.exists()


def test_a_domain_belongs_to_one_organisation(acme, alice, mallory, globex, idp):
    _configure(acme, alice, idp)
    with pytest.raises(ValidationError) as refused:
        _configure(globex, mallory, idp, allowed_domains="acme.example")
    assert "already claimed" in str(refused.value)


def test_sso_required_needs_a_provider(acme, alice):
    with pytest.raises(ValidationError):
        sso.sso_configure(org=acme, by=alice, values=sso.SsoSettings(sso_required=True))


# --- SAML 2.0 -------------------------------------------------------------------------------------


def _idp_metadata(entity_id: str, sso_url: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test idp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.PEM).decode()
    body = "".join(der.strip().splitlines()[1:-1])
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{body}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


def test_saml_metadata_becomes_an_allauth_app_and_sign_in_starts_at_the_idp(
    client, acme, alice, settings
):
    settings.ALLOWED_HOSTS = ["okr.example.com"]
    metadata = _idp_metadata("https://idp.acme.example/saml", "https://idp.acme.example/sso")
    sso.sso_configure(
        org=acme,
        by=alice,
        values=sso.SsoSettings(saml_metadata_xml=metadata, allowed_domains="acme.example"),
    )
    app = SocialApp.objects.get(provider="saml", provider_id="org-acme")
    assert app.client_id == "org-acme"
    assert app.settings["idp"]["entity_id"] == "https://idp.acme.example/saml"
    assert app.settings["idp"]["sso_url"] == "https://idp.acme.example/sso"

    # python3-saml reads the Host header (every browser sends one) and wants a dotted name.
    response = client.post(
        reverse("sso_login"), {"organization": "dave@acme.example"}, HTTP_HOST="okr.example.com"
    )
    assert response.status_code == 302
    assert response.url.startswith("https://idp.acme.example/sso?SAMLRequest=")
    # Our service-provider metadata is published for the IdP's admin.
    metadata_page = Client().get("/accounts/saml/org-acme/metadata/", HTTP_HOST="okr.example.com")
    assert metadata_page.status_code == 200
    assert b"/accounts/saml/org-acme/acs/" in metadata_page.content


def test_broken_saml_metadata_is_reported(acme, alice):
    with pytest.raises(ValidationError) as refused:
        sso.sso_configure(
            org=acme,
            by=alice,
            values=sso.SsoSettings(
                saml_metadata_xml="<not-metadata/>", allowed_domains="a.example"
            ),
        )
    assert "saml_metadata_xml" in refused.value.message_dict
