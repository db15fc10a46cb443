"""Slack and Teams credentials encrypted at rest (okrapp.crypto): the columns become text
(tokens are longer than the secrets) and the values already stored are encrypted."""

import django.core.validators
from django.db import migrations

import okrapp.crypto

SECRETS = ["slack_bot_token", "slack_signing_secret", "teams_webhook_url"]


def encrypt(apps, schema_editor):
    table = apps.get_model("checkins", "Integration")._meta.db_table
    okrapp.crypto.encrypt_columns(schema_editor, table, SECRETS)


def decrypt(apps, schema_editor):
    table = apps.get_model("checkins", "Integration")._meta.db_table
    okrapp.crypto.encrypt_columns(schema_editor, table, SECRETS, forwards=False)


class Migration(migrations.Migration):
    dependencies = [
        ("checkins", "0008_org_export"),
    ]

    operations = [
        migrations.AlterField(
            model_name="integration",
            name="slack_bot_token",
            field=okrapp.crypto.EncryptedTextField(
                blank=True,
                validators=[django.core.validators.MaxLengthValidator(255)],
                verbose_name="Slack bot token",
            ),
        ),
        migrations.AlterField(
            model_name="integration",
            name="slack_signing_secret",
            field=okrapp.crypto.EncryptedTextField(
                blank=True,
                validators=[django.core.validators.MaxLengthValidator(255)],
                verbose_name="Slack signing secret",
            ),
        ),
        migrations.AlterField(
            model_name="integration",
            name="teams_webhook_url",
            field=okrapp.crypto.EncryptedTextField(
                blank=True,
                validators=[
                    django.core.validators.URLValidator(),
                    django.core.validators.MaxLengthValidator(1000),
                ],
                verbose_name="Teams incoming webhook",
            ),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
