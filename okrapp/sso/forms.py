from django import forms
from django.utils.translation import gettext_lazy as _


class SsoConfigurationForm(forms.Form):
    oidc_issuer = forms.URLField(
        label=_("Issuer URL"),
        required=False,
        assume_scheme="https",
        help_text=_(
            "Your identity provider's issuer; okrapp reads "
            "<code>&lt;issuer&gt;/.well-known/openid-configuration</code>."
        ),
    )
    oidc_client_id = forms.CharField(label=_("Client ID"), required=False, max_length=191)
    oidc_client_secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        max_length=191,
        # Never sent back to the browser, not even after a refused form.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    saml_metadata_url = forms.URLField(
        label=_("IdP metadata URL"), required=False, assume_scheme="https"
    )
    saml_metadata_xml = forms.CharField(
        label=_("IdP metadata XML"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    allowed_domains = forms.CharField(
        label=_("Allowed email domains"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "People with these addresses who sign in through your identity provider join as "
            "members. One per line or separated by commas, e.g. acme.example."
        ),
    )
    sso_required = forms.BooleanField(
        label=_("Require single sign-on for members"),
        required=False,
        help_text=_(
            "Password login is refused for members; admins keep their password as a recovery path."
        ),
    )


class SsoLoginForm(forms.Form):
    organization = forms.CharField(
        label=_("Your work email or your organisation's address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "email", "placeholder": "you@company.com"}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
