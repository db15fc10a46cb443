"""A minimal SAML 2.0 identity provider for tests.

It does what a real IdP does for the SP-initiated Web Browser SSO profile: publishes its
metadata (entity ID, single sign-on URL, a self-signed signing certificate made here with
``cryptography``), reads the AuthnRequest the service provider sent with the HTTP-Redirect
binding, and answers with a Response for that request's ACS URL and ``InResponseTo``,
signed with ``xmlsec`` through python3-saml's own ``OneLogin_Saml2_Utils.add_sign``, to be
POSTed back (HTTP-POST binding) the way the browser's auto-submitting form would.

Nothing of okrapp or allauth is involved; tests can also ask for broken answers (unsigned,
signed by another key, altered after signing) to check they are refused.
"""

from __future__ import annotations

import base64
import datetime
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def _key_and_cert(common_name: str) -> tuple[str, str]:
    """A fresh RSA key and a self-signed certificate, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def _cert_body(cert_pem: str) -> str:
    return "".join(cert_pem.strip().splitlines()[1:-1])


def _instant(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AuthnRequest:
    id: str
    acs_url: str
    sp_entity_id: str
    relay_state: str | None


@dataclass(frozen=True)
class Answer:
    """Where the browser POSTs the IdP's answer, and the form fields it carries."""

    acs_url: str
    data: dict[str, str]
    xml: str


class SamlIdp:
    def __init__(
        self,
        entity_id: str = "https://idp.acme.example/saml",
        sso_url: str = "https://idp.acme.example/sso",
    ):
        self.entity_id = entity_id
        self.sso_url = sso_url
        self.key, self.cert = _key_and_cert("okrapp test idp")
        self.requests: list[AuthnRequest] = []

    def metadata(self) -> str:
        return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(self.entity_id)}>
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{_cert_body(self.cert)}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>{EMAIL_FORMAT}</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location={quoteattr(self.sso_url)}/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    # --- the IdP's single sign-on endpoint ----------------------------------------------------

    def read_request(self, redirect_url: str) -> AuthnRequest:
        """The AuthnRequest the SP put in its redirect to our SSO URL (HTTP-Redirect binding)."""
        url = urlparse(redirect_url)
        if f"{url.scheme}://{url.netloc}{url.path}" != self.sso_url:
            raise AssertionError(f"not sent to this IdP: {redirect_url}")
        query = parse_qs(url.query)
        xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0])
        root = etree.fromstring(xml)
        if root.tag != f"{{{NS['samlp']}}}AuthnRequest":
            raise AssertionError(f"not an AuthnRequest: {root.tag}")
        request = AuthnRequest(
            id=root.get("ID"),
            acs_url=root.get("AssertionConsumerServiceURL"),
            sp_entity_id=root.findtext("saml:Issuer", namespaces=NS),
            relay_state=(query.get("RelayState") or [None])[0],
        )
        self.requests.append(request)
        return request

    def answer(
        self,
        request: AuthnRequest,
        *,
        email: str,
        name: str = "",
        uid: str | None = None,
        sign: str = "assertion",
        signing_key: tuple[str, str] | None = None,
        tamper: dict[str, str] | None = None,
    ) -> Answer:
        """The signed Response a browser would POST to the SP's ACS URL.

        ``sign``: "assertion", "response", "both" or "none". ``signing_key`` signs with
        another (key, cert) than the one in the metadata. ``tamper`` replaces text in the
        XML *after* signing, as an attacker editing the form would.
        """
        now = datetime.datetime.now(datetime.UTC)
        later = now + datetime.timedelta(minutes=5)
        response_id = "_r" + secrets.token_hex(16)
        assertion_id = "_a" + secrets.token_hex(16)
        attributes = {"email": email, "uid": uid or email}
        if name:
            attributes["name"] = name
        attribute_xml = "".join(
            f"<saml:Attribute Name={quoteattr(key)} "
            'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
            f"<saml:AttributeValue>{escape(value)}</saml:AttributeValue></saml:Attribute>"
            for key, value in attributes.items()
        )
        assertion = f"""<saml:Assertion xmlns:saml="{NS["saml"]}" ID="{assertion_id}"
    Version="2.0" IssueInstant="{_instant(now)}">
  <saml:Issuer>{escape(self.entity_id)}</saml:Issuer>
  <saml:Subject>
    <saml:NameID Format="{EMAIL_FORMAT}">{escape(email)}</saml:NameID>
    <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
      <saml:SubjectConfirmationData InResponseTo={quoteattr(request.id)}
          NotOnOrAfter="{_instant(later)}" Recipient={quoteattr(request.acs_url)}/>
    </saml:SubjectConfirmation>
  </saml:Subject>
  <saml:Conditions NotBefore="{_instant(now - datetime.timedelta(minutes=1))}"
      NotOnOrAfter="{_instant(later)}">
    <saml:AudienceRestriction>
      <saml:Audience>{escape(request.sp_entity_id)}</saml:Audience>
    </saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AuthnStatement AuthnInstant="{_instant(now)}" SessionIndex="{assertion_id}">
    <saml:AuthnContext>
      <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>
    </saml:AuthnContext>
  </saml:AuthnStatement>
  <saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>
</saml:Assertion>"""
        key, cert = signing_key or (self.key, self.cert)
        if sign in ("assertion", "both"):
            assertion = self._sign(assertion, key, cert)
        response = f"""<samlp:Response xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}"
    ID="{response_id}" Version="2.0" IssueInstant="{_instant(now)}"
    Destination={quoteattr(request.acs_url)} InResponseTo={quoteattr(request.id)}>
  <saml:Issuer>{escape(self.entity_id)}</saml:Issuer>
  <samlp:Status>
    <samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>
  </samlp:Status>
  {assertion}
</samlp:Response>"""
        if sign in ("response", "both"):
            response = self._sign(response, key, cert)
        for old, new in (tamper or {}).items():
            if old not in response:
                raise AssertionError(f"nothing to tamper with: {old!r}")
            response = response.replace(old, new)
        data = {"SAMLResponse": base64.b64encode(response.encode()).decode()}
        if request.relay_state is not None:
            data["RelayState"] = request.relay_state
        return Answer(acs_url=request.acs_url, data=data, xml=response)

    @staticmethod
    def _sign(xml: str, key: str, cert: str) -> str:
        signed = OneLogin_Saml2_Utils.add_sign(xml, key, cert)
        signed = signed.decode() if isinstance(signed, bytes) else signed
        # add_sign returns a whole document; drop the XML declaration to embed it.
        return signed.split("?>", 1)[1] if signed.startswith("<?xml") else signed

    def other_key(self) -> tuple[str, str]:
        """A key pair that is not in the metadata (a forger's)."""
        return _key_and_cert("someone else")
