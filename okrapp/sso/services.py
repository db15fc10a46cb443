"""Writes and look-ups for single sign-on.

``sso_configure`` keeps allauth's ``SocialApp`` rows in step with what the admin entered;
``sso_admit`` is the rule every sign-in through an organisation's IdP passes (called by
``okrapp.accounts.SocialAccountAdapter``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialApp
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from okrapp.models import Invitation, Membership, Organization, User
from okrapp.sso.models import PROVIDER_ID_PREFIX, SsoConfiguration, SsoDomain, provider_id_for

OIDC = "openid_connect"
SAML = "saml"

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


# --- Reads --------------------------------------------------------------------------------------


def sso_configuration_for(org: Organization) -> SsoConfiguration | None:
    return SsoConfiguration.objects.for_org(org).select_related("oidc_app", "saml_app").first()


def sso_domains_of(org: Organization) -> list[str]:
    return list(SsoDomain.objects.filter(organization=org).values_list("domain", flat=True))


def organization_for_sso(query: str) -> Organization | None:
    """The organisation someone on the login page means: its address, an email or a domain."""
    query = query.strip().lower().lstrip("@")
    if not query:
        return None
    if "@" in query:
        query = query.rpartition("@")[2]
    if "." in query:
        domain = SsoDomain.objects.filter(domain=query).select_related("organization").first()
        return domain.organization if domain else None
    return Organization.objects.filter(slug=query).first()


def sso_app_for_login(org: Organization) -> SocialApp | None:
    """The app to start a sign-in with: OpenID Connect when configured, else SAML."""
    config = sso_configuration_for(org)
    if config is None:
        return None
    if config.oidc_app is not None:
        config.oidc_app.secret = config.oidc_client_secret
        return config.oidc_app
    return config.saml_app


def secret_for_app(app: SocialApp) -> str | None:
    """The decrypted client secret of an organisation's OpenID Connect app (None: not ours)."""
    if app.provider != OIDC or app.pk is None:
        return None
    org = organization_of_app(app)
    if org is None:
        return None
    config = sso_configuration_for(org)
    return config.oidc_client_secret if config is not None else None


def email_domain(email: str) -> str:
    return email.strip().lower().rpartition("@")[2]


# --- Configuration ------------------------------------------------------------------------------


def parse_domains(text: str) -> list[str]:
    """Domains from what an admin typed (commas, spaces or lines), normalised, in order."""
    domains: list[str] = []
    for raw in re.split(r"[\s,;]+", text):
        domain = raw.strip().lower().lstrip("@").rstrip(".")
        if not domain:
            continue
        if not _DOMAIN_RE.match(domain):
            raise ValidationError(
                {"allowed_domains": _("“%(domain)s” is not an email domain.") % {"domain": raw}}
            )
        if domain not in domains:
            domains.append(domain)
    return domains


def _oidc_discovery(issuer: str) -> dict:
    """Fetch the issuer's discovery document, so a typo shows now rather than at sign-in."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with get_social_adapter().get_requests_session() as session:
            response = session.get(url)
            response.raise_for_status()
            document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ValidationError(
            {
                "oidc_issuer": _(
                    "Could not read %(url)s (%(error)s). Check the issuer URL and that okrapp "
                    "can reach it."
                )
                % {"url": url, "error": exc.__class__.__name__}
            }
        ) from exc
    missing = [
        key
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not document.get(key)
    ]
    if missing:
        raise ValidationError(
            {
                "oidc_issuer": _("The discovery document lacks %(keys)s.")
                % {"keys": ", ".join(missing)}
            }
        )
    if document["issuer"].rstrip("/") != issuer.rstrip("/"):
        raise ValidationError(
            {
                "oidc_issuer": _(
                    "The provider calls itself “%(actual)s”; enter that as the issuer URL."
                )
                % {"actual": document["issuer"]}
            }
        )
    return document


def _saml_idp_settings(metadata_url: str, metadata_xml: str) -> dict:
    """allauth's ``idp`` settings from IdP metadata (parsed now to report errors early)."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    field = "saml_metadata_xml" if metadata_xml else "saml_metadata_url"
    try:
        if metadata_xml:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata_xml)
        else:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse_remote(metadata_url, timeout=10)
    except Exception as exc:  # the parser raises anything from URLError to XMLSyntaxError
        raise ValidationError(
            {field: _("Could not read the SAML metadata: %(error)s") % {"error": exc}}
        ) from exc
    idp = parsed.get("idp") or {}
    entity_id = idp.get("entityId")
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    cert = idp.get("x509cert") or next(
        iter((idp.get("x509certMulti") or {}).get("signing", [])), ""
    )
    if not (entity_id and sso_url and cert):
        raise ValidationError(
            {
                field: _(
                    "The SAML metadata must name the IdP's entity ID, its single sign-on URL "
                    "and its signing certificate."
                )
            }
        )
    if metadata_xml:
        return {"entity_id": entity_id, "sso_url": sso_url, "x509cert": cert}
    # allauth re-reads a metadata URL (cached), so a rotated certificate is picked up.
    return {"metadata_url": metadata_url, "entity_id": entity_id}


@dataclass(frozen=True)
class SsoSettings:
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""  # empty keeps the stored secret
    saml_metadata_url: str = ""
    saml_metadata_xml: str = ""
    allowed_domains: str = ""
    sso_required: bool = False


@transaction.atomic
def sso_configure(*, org: Organization, by: Membership, values: SsoSettings) -> SsoConfiguration:
    """Save an organisation's SSO settings and the allauth apps that carry them out."""
    if by.organization_id != org.pk or not by.is_admin or not by.active:
        raise PermissionDenied(_("Only admins of this organisation may do this."))
    config = sso_configuration_for(org) or SsoConfiguration(organization=org)
    provider_id = provider_id_for(org.slug)
    errors: dict[str, list[str]] = {}

    issuer = values.oidc_issuer.strip().rstrip("/")
    client_id = values.oidc_client_id.strip()
    secret = values.oidc_client_secret.strip()
    wants_oidc = bool(issuer or client_id or secret)
    if wants_oidc:
        if not issuer:
            errors.setdefault("oidc_issuer", []).append(_("Enter the issuer URL."))
        if not client_id:
            errors.setdefault("oidc_client_id", []).append(_("Enter the client ID."))
        if not secret and not config.oidc_client_secret:
            errors.setdefault("oidc_client_secret", []).append(_("Enter the client secret."))
        if issuer and not errors:
            _oidc_discovery(issuer)

    metadata_url = values.saml_metadata_url.strip()
    metadata_xml = values.saml_metadata_xml.strip()
    if metadata_url and metadata_xml:
        errors.setdefault("saml_metadata_url", []).append(
            _("Give the metadata either as a URL or as XML, not both.")
        )
    saml_idp = None
    if (metadata_url or metadata_xml) and not errors:
        saml_idp = _saml_idp_settings(metadata_url, metadata_xml)

    domains = parse_domains(values.allowed_domains)
    if (wants_oidc or saml_idp) and not domains:
        errors.setdefault("allowed_domains", []).append(
            _("Name at least one email domain whose people sign in through this provider.")
        )
    if values.sso_required and not (wants_oidc or saml_idp):
        errors.setdefault("sso_required", []).append(
            _("Configure OpenID Connect or SAML before requiring single sign-on.")
        )
    taken = sorted(
        SsoDomain.objects.filter(domain__in=domains)
        .exclude(organization=org)
        .values_list("domain", flat=True)
    )
    if taken:
        errors.setdefault("allowed_domains", []).append(
            _("%(domains)s is already claimed by another organisation.")
            % {"domains": ", ".join(taken)}
        )
    if errors:
        raise ValidationError(errors)

    if wants_oidc:
        app = config.oidc_app or SocialApp(provider=OIDC, provider_id=provider_id)
        app.name = org.name
        app.client_id = client_id
        app.secret = ""  # kept encrypted in config.oidc_client_secret (see secret_for_app)
        if secret:
            config.oidc_client_secret = secret
        app.settings = {"server_url": issuer, "oauth_pkce_enabled": True}
        app.save()
        config.oidc_app = app
    elif config.oidc_app is not None:
        config.oidc_app.delete()
        config.oidc_app = None
    if not wants_oidc:
        config.oidc_client_secret = ""

    if saml_idp:
        app = config.saml_app or SocialApp(provider=SAML, provider_id=provider_id)
        app.name = org.name
        app.client_id = provider_id  # allauth's SAML URLs name the app by client_id
        app.settings = {
            "idp": saml_idp,
            "attribute_mapping": {
                "uid": ["uid", "urn:oid:0.9.2342.19200300.100.1.1"],
                "email": [
                    "email",
                    "urn:oid:0.9.2342.19200300.100.1.3",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                ],
                "name": [
                    "name",
                    "displayName",
                    "urn:oid:2.16.840.1.113730.3.1.241",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                ],
            },
            "use_nameid_for_email": False,
        }
        app.save()
        config.saml_app = app
    elif config.saml_app is not None:
        config.saml_app.delete()
        config.saml_app = None

    config.oidc_issuer = issuer if wants_oidc else ""
    config.oidc_client_id = client_id if wants_oidc else ""
    config.saml_metadata_url = metadata_url if saml_idp else ""
    config.saml_metadata_xml = metadata_xml if saml_idp else ""
    config.sso_required = values.sso_required
    config.updated_at = timezone.now()
    config.save()

    SsoDomain.objects.filter(organization=org).exclude(domain__in=domains).delete()
    existing = set(sso_domains_of(org))
    try:
        with transaction.atomic():
            SsoDomain.objects.bulk_create(
                [SsoDomain(organization=org, domain=d) for d in domains if d not in existing]
            )
    except IntegrityError as exc:  # claimed by another organisation a moment ago
        raise ValidationError(
            {"allowed_domains": _("One of these domains was just claimed by another organisation.")}
        ) from exc
    return config


# --- Sign-in ------------------------------------------------------------------------------------


class SsoRefused(Exception):
    """A sign-in through an organisation's IdP is refused; ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def organization_of_app(app: SocialApp) -> Organization | None:
    """The organisation whose configuration owns ``app`` (None for a stray app)."""
    provider_id = app.provider_id or ""
    if not provider_id.startswith(PROVIDER_ID_PREFIX):
        return None
    org = Organization.objects.filter(slug=provider_id.removeprefix(PROVIDER_ID_PREFIX)).first()
    if org is None:
        return None
    config = sso_configuration_for(org)
    if config is None or app.pk not in (config.oidc_app_id, config.saml_app_id):
        return None
    return org


def sso_admit(*, org: Organization, email: str, user: User | None) -> None:
    """Refuse unless the IdP of ``org`` may speak for ``email`` (and for ``user``, if known).

    ``user`` is the account the sign-in would use: the one already linked to this IdP
    account, or the existing account with this email. Nothing is written here.
    """
    if not email or "@" not in email:
        raise SsoRefused(
            _("%(org)s's identity provider did not tell us your email address.") % {"org": org.name}
        )
    domain = email_domain(email)
    if domain not in sso_domains_of(org):
        raise SsoRefused(
            _(
                "%(org)s's single sign-on is not open to %(domain)s addresses. Ask an admin of "
                "%(org)s to invite you, or sign in another way."
            )
            % {"org": org.name, "domain": domain}
        )
    if user is None:
        return
    if not user.is_active:
        raise SsoRefused(_("This account is disabled."))
    membership = Membership.objects.for_org(org).filter(user=user).first()
    if membership is not None and not membership.active and not pending_invitation(org, email):
        raise SsoRefused(
            _("Your access to %(org)s was removed. Ask one of its admins if this is a mistake.")
            % {"org": org.name}
        )
    if membership is None and user.memberships.filter(active=True).exists():
        # Linking would hand this IdP an account that other organisations trust.
        raise SsoRefused(
            _(
                "An account for %(email)s already exists. Log in with your password and ask an "
                "admin of %(org)s to invite you."
            )
            % {"email": email, "org": org.name}
        )


def pending_invitation(org: Organization, email: str) -> Invitation | None:
    """The usable invitation of ``email`` into ``org``, if an admin sent one."""
    invitation = (
        Invitation.objects.for_org(org)
        .filter(email__iexact=email, accepted_at=None, revoked_at=None)
        .order_by("-created_at")
        .first()
    )
    return None if invitation is None or invitation.is_expired else invitation


@transaction.atomic
def sso_join(*, org: Organization, user: User) -> Membership:
    """Just-in-time membership for someone ``sso_admit`` let in (no-op for a member).

    Someone an admin invited joins through their invitation: its role and team apply and
    the invitation is used up, exactly as if they had accepted it on the invitation page.
    """
    from okrapp.services import invitation_accept

    membership = Membership.objects.for_org(org).filter(user=user).first()
    if membership is None or not membership.active:
        invitation = pending_invitation(org, user.email)
        if invitation is not None:
            return invitation_accept(invitation=invitation, user=user)
    if membership is None:
        membership = Membership.objects.create(
            organization=org,
            user=user,
            role=Membership.Role.MEMBER,
            time_zone=org.time_zone,
            language=org.language,
        )
    return membership


def sso_required_for(user: User) -> Organization | None:
    """An organisation whose SSO policy refuses ``user`` a password login, if any.

    Admins are exempt: they keep the password as the way back in when the IdP fails.
    """
    memberships = (
        user.memberships.filter(active=True)
        .exclude(role=Membership.Role.ADMIN)
        .select_related("organization")
    )
    for membership in memberships:
        config = SsoConfiguration.objects.for_org(membership.organization).first()
        if config is not None and config.sso_required and config.is_enabled:
            return membership.organization
    return None


def sso_required_of(org: Organization) -> SsoConfiguration | None:
    """The organisation's configuration when it requires single sign-on (and has an IdP)."""
    config = sso_configuration_for(org)
    if config is None or not (config.sso_required and config.is_enabled):
        return None
    return config


def signed_in_through_idp(request, org: Organization) -> bool:
    """Whether this session's sign-in went through ``org``'s identity provider."""
    from allauth.account.authentication import get_authentication_records

    provider_id = provider_id_for(org.slug)
    return any(
        record.get("method") == "socialaccount" and record.get("provider") == provider_id
        for record in get_authentication_records(request, request.user)
    )


@dataclass(frozen=True)
class InvitationSso:
    """How someone invited into an organisation that requires SSO must come in."""

    org: Organization
    domain_allowed: bool


def invitation_sso(invitation: Invitation) -> InvitationSso | None:
    """None when the invitation may be accepted with a password; else the SSO route.

    Admins are invited the ordinary way: they keep a password as the recovery path.
    """
    if invitation.role == Membership.Role.ADMIN:
        return None
    org = invitation.organization
    if sso_required_of(org) is None:
        return None
    return InvitationSso(
        org=org, domain_allowed=email_domain(invitation.email) in sso_domains_of(org)
    )
