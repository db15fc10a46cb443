"""``manage.py seed_demo``: two demo organisations to click through (idempotent).

It lives in ``checkins`` because it seeds every layer: people and teams (``okrapp.demo``),
cycles and OKRs (``cycles.demo``) and the weekly cadence on top of them.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from checkins.demo import seed_cadence
from cycles.demo import seed_okrs
from okrapp.demo import ACME, DEMO_PASSWORD, GLOBEX, seed_organization


class Command(BaseCommand):
    help = "Create or refresh the Acme Robotics and Globex demo organisations."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Seed even with DEBUG off (demo passwords!)."
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with a published password; it runs only with "
                "DEBUG on, or with --force."
            )
        with transaction.atomic():
            for spec in (ACME, GLOBEX):
                org = seed_organization(spec)
                if spec is ACME:
                    seed_okrs(org)
                    seed_cadence(org)
        self.stdout.write(self.style.SUCCESS("Demo organisations ready."))
        self.stdout.write(f"Every demo login uses the password: {DEMO_PASSWORD}")
        for spec in (ACME, GLOBEX):
            self.stdout.write(f"  {spec['name']} (/{spec['slug']}/)")
            for person in spec["people"]:
                extra = " + OKR Master" if person.okr_master else ""
                self.stdout.write(f"    {person.email:<26} {person.role}{extra}")
