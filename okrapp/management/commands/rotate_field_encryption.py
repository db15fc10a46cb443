"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand

from okrapp import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets (Slack, Teams, SSO) with the first key of "
        "FIELD_ENCRYPTION_KEYS, so older keys can then be removed from the setting."
    )

    def handle(self, *args, **options):
        count = crypto.rotate_all()
        tables = ", ".join(table for table, _pk, _columns in crypto.encrypted_columns())
        self.stdout.write(f"Re-encrypted {count} value(s) in {tables}.")
