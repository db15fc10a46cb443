"""What an organisation's admin configured for single sign-on.

Registered with the okrapp app through ``okrapp.models`` (one import at its end).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from okrapp.crypto import EncryptedTextField
from okrapp.tenancy import TenantModel

PROVIDER_ID_PREFIX = "org-"


def provider_id_for(slug: str) -> str:
    """allauth's ``provider_id`` (and SAML ``client_id``) of an organisation's IdP."""
    return f"{PROVIDER_ID_PREFIX}{slug}"


class SsoConfiguration(TenantModel):
    """One organisation's identity provider(s), its allowed email domains and its policy.

    The OIDC client secret is kept here, encrypted at rest (:mod:`okrapp.crypto`); allauth's
    ``SocialApp.secret`` column stays empty and ``okrapp.accounts.SocialAccountAdapter``
    hands allauth the decrypted secret in memory. It is never rendered back, only its last
    characters.
    """

    oidc_issuer = models.URLField(
        _("OpenID Connect issuer URL"),
        blank=True,
        help_text=_(
            "The issuer of your identity provider, e.g. https://login.example.com/realms/acme; "
            "its /.well-known/openid-configuration must be reachable from okrapp."
        ),
    )
    oidc_client_id = models.CharField(_("client ID"), max_length=191, blank=True)
    oidc_client_secret = EncryptedTextField(_("client secret"), blank=True, editable=False)
    oidc_app = models.OneToOneField(
        "socialaccount.SocialApp",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    saml_metadata_url = models.URLField(_("SAML IdP metadata URL"), blank=True)
    saml_metadata_xml = models.TextField(
        _("SAML IdP metadata XML"),
        blank=True,
        help_text=_("Paste the metadata document if your IdP does not publish it at a URL."),
    )
    saml_app = models.OneToOneField(
        "socialaccount.SocialApp",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    sso_required = models.BooleanField(
        _("SSO required"),
        default=False,
        help_text=_(
            "Members must sign in through the identity provider; password login is refused "
            "for them. Admins keep their password as a recovery path."
        ),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        verbose_name = _("single sign-on configuration")
        verbose_name_plural = _("single sign-on configurations")
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="ssoconfiguration_org_unique"),
        ]

    def __str__(self) -> str:
        return f"SSO of {self.organization_id}"

    @property
    def has_oidc(self) -> bool:
        return self.oidc_app_id is not None

    @property
    def has_saml(self) -> bool:
        return self.saml_app_id is not None

    @property
    def is_enabled(self) -> bool:
        return self.has_oidc or self.has_saml


class SsoDomain(models.Model):
    """An email domain whose people an organisation's IdP speaks for.

    A global routing table like organisation slugs, not tenant data: a domain belongs to
    at most one organisation (the database refuses a second claim), so one organisation
    cannot point its IdP at another's people, and the login page can route ``@domain``
    to its organisation.
    """

    organization = models.ForeignKey(
        "okrapp.Organization", on_delete=models.CASCADE, related_name="sso_domains"
    )
    domain = models.CharField(_("email domain"), max_length=253, unique=True)

    class Meta:
        verbose_name = _("single sign-on email domain")
        verbose_name_plural = _("single sign-on email domains")
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
