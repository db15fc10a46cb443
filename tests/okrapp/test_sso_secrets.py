"""Secrets at rest (okrapp.crypto): what the database holds, key rotation, and the data
migration that encrypted values stored in plaintext before."""

import importlib
import io

import pytest
from allauth.socialaccount.models import SocialApp
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from okrapp import crypto
from okrapp.sso import services as sso
from okrapp.sso.models import SsoConfiguration

pytestmark = pytest.mark.django_db

SECRET = "oidc-client-secret-4b1d-PLAINTEXT"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def test_values_round_trip_and_every_token_differs():
    first, second = crypto.encrypt(SECRET), crypto.encrypt(SECRET)
    assert first != second and SECRET not in first
    assert first.startswith(crypto.TOKEN_PREFIX)
    assert crypto.decrypt(first) == crypto.decrypt(second) == SECRET


def test_the_default_key_comes_from_secret_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    token = crypto.encrypt(SECRET)
    assert Fernet(crypto.derived_key(settings.SECRET_KEY)).decrypt(token.encode()) == (
        SECRET.encode()
    )
    settings.SECRET_KEY = "another-secret-key-" * 3
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(token)


def test_a_malformed_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="Fernet keys"):
        crypto.encrypt(SECRET)


def test_the_oidc_client_secret_is_encrypted_in_the_database(acme, alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    config = _oidc_config(acme, alice)
    stored = raw(SsoConfiguration._meta.db_table, "oidc_client_secret", config.pk)
    assert SECRET not in stored and stored.startswith(crypto.TOKEN_PREFIX)
    assert raw(SocialApp._meta.db_table, "secret", config.oidc_app_id) == ""
    config.refresh_from_db()
    assert config.oidc_client_secret == SECRET
    # allauth is handed the secret in memory, through our adapter.
    from allauth.socialaccount.adapter import get_adapter

    app = get_adapter().get_app(None, provider="org-acme")
    assert app.secret == SECRET


def _oidc_config(org, admin):
    """An OIDC configuration written directly (no IdP to discover in these tests)."""
    app = SocialApp.objects.create(
        provider=sso.OIDC, provider_id="org-acme", name="Acme", client_id="acme-client"
    )
    return SsoConfiguration.objects.create(
        organization=org,
        oidc_issuer="https://idp.acme.example",
        oidc_client_id="acme-client",
        oidc_client_secret=SECRET,
        oidc_app=app,
    )


def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_go(acme, alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    config = _oidc_config(acme, alice)
    before = raw(SsoConfiguration._meta.db_table, "oidc_client_secret", config.pk)

    # Step 1: the new key goes first; old values stay readable.
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    config.refresh_from_db()
    assert config.oidc_client_secret == SECRET
    # Step 2: the command rewrites them with the new key (and twice is harmless).
    out = io.StringIO()
    call_command("rotate_field_encryption", stdout=out)
    assert "Re-encrypted 1 value(s)" in out.getvalue()
    assert crypto.rotate_all() == 0
    after = raw(SsoConfiguration._meta.db_table, "oidc_client_secret", config.pk)
    assert after != before
    # Step 3: the old key is dropped; everything still reads.
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    config.refresh_from_db()
    assert config.oidc_client_secret == SECRET
    # A value nobody rotated would now be unreadable: the error says why.
    with pytest.raises(crypto.DecryptionFailed, match="FIELD_ENCRYPTION_KEYS"):
        crypto.decrypt(before)


def test_the_migration_moves_a_plaintext_socialapp_secret_into_the_encrypted_field(acme, alice):
    config = _oidc_config(acme, alice)
    # As before the migration: the secret in allauth's column, our field empty.
    SocialApp.objects.filter(pk=config.oidc_app_id).update(secret=SECRET)
    SsoConfiguration.objects.for_org(acme).update(oidc_client_secret="")
    migration = importlib.import_module("okrapp.migrations.0007_sso_client_secret_encrypted")

    migration.move_secrets_in(apps, None)
    assert raw(SocialApp._meta.db_table, "secret", config.oidc_app_id) == ""
    stored = raw(SsoConfiguration._meta.db_table, "oidc_client_secret", config.pk)
    assert SECRET not in stored
    config.refresh_from_db()
    assert config.oidc_client_secret == SECRET

    migration.move_secrets_out(apps, None)  # backwards gives allauth its secret back
    assert raw(SocialApp._meta.db_table, "secret", config.oidc_app_id) == SECRET
