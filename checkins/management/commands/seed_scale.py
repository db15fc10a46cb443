"""``manage.py seed_scale``: organisations of realistic size for benchmarks."""

import time

from django.core.management.base import BaseCommand, CommandError

from checkins import scale
from okrapp.models import Organization


class Command(BaseCommand):
    help = "Build organisations at scale (people, team tree, aligned OKRs, weekly check-ins)."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=1000)
        parser.add_argument("--teams", type=int, default=200)
        parser.add_argument("--krs", type=int, default=5000)
        parser.add_argument("--weeks", type=int, default=13)
        parser.add_argument("--orgs", type=int, default=1)
        parser.add_argument("--prefix", default="scale", help="Organisation slugs: PREFIX-1, ...")
        parser.add_argument(
            "--scores",
            action="store_true",
            help="Put the cycle in scoring and score 90 %% of the KRs.",
        )

    def handle(self, *args, people, teams, krs, weeks, orgs, prefix, scores, **options):
        if not (1 <= weeks <= 13) or teams < 1 or people <= teams or krs < 1 or orgs < 1:
            raise CommandError("Need 1-13 weeks, at least one team, more people than teams.")
        for n in range(1, orgs + 1):
            slug = f"{prefix}-{n}"
            if Organization.objects.filter(slug=slug).exists():
                self.stdout.write(f"{slug}: exists, kept")
                continue
            started = time.perf_counter()
            result = scale.build(
                slug=slug, people=people, teams=teams, krs=krs, weeks=weeks, scores=scores, seed=n
            )
            self.stdout.write(
                f"{slug}: {result.people} people, {result.teams} teams, "
                f"{result.key_results} KRs, {result.checkins} check-ins "
                f"in {time.perf_counter() - started:.1f} s"
            )
        self.stdout.write(f"Log in as p0@{prefix}-1.example (admin) with {scale.PASSWORD}")
