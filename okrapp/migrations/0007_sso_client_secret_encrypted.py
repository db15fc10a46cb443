"""The OIDC client secret moves from allauth's SocialApp.secret (plaintext) into
SsoConfiguration.oidc_client_secret, encrypted at rest (okrapp.crypto)."""

from django.db import migrations

import okrapp.crypto


def move_secrets_in(apps, schema_editor):
    SsoConfiguration = apps.get_model("okrapp", "SsoConfiguration")
    SocialApp = apps.get_model("socialaccount", "SocialApp")
    for config in SsoConfiguration._base_manager.exclude(oidc_app=None).iterator():
        app = SocialApp.objects.get(pk=config.oidc_app_id)
        if app.secret:
            config.oidc_client_secret = app.secret  # the field encrypts it
            config.save(update_fields=["oidc_client_secret"])
            app.secret = ""
            app.save(update_fields=["secret"])


def move_secrets_out(apps, schema_editor):
    SsoConfiguration = apps.get_model("okrapp", "SsoConfiguration")
    SocialApp = apps.get_model("socialaccount", "SocialApp")
    for config in SsoConfiguration._base_manager.exclude(oidc_app=None).iterator():
        if config.oidc_client_secret:
            SocialApp.objects.filter(pk=config.oidc_app_id).update(secret=config.oidc_client_secret)


class Migration(migrations.Migration):
    dependencies = [
        ("okrapp", "0006_sso_configuration"),
        ("socialaccount", "0006_alter_socialaccount_extra_data"),
    ]

    operations = [
        migrations.AddField(
            model_name="ssoconfiguration",
            name="oidc_client_secret",
            field=okrapp.crypto.EncryptedTextField(
                blank=True, editable=False, verbose_name="client secret"
            ),
        ),
        migrations.RunPython(move_secrets_in, move_secrets_out),
    ]
