"""Demo organisations: Acme Robotics (``acme``) and Globex (``globex``), with people and teams.

Used by ``manage.py seed_demo``; every function is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import slugify

from okrapp.models import Membership, Organization, Team, TeamMembership, User

DEMO_PASSWORD = "okr-demo-2026"  # noqa: S105 - printed on purpose; refused unless DEBUG/--force


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    role: str = Membership.Role.MEMBER
    team: str | None = None
    lead: bool = False
    manager: str | None = None
    okr_master: bool = False
    time_zone: str = "Asia/Taipei"
    language: str = "en"


ACME = {
    "name": "Acme Robotics",
    "slug": "acme",
    "time_zone": "Asia/Taipei",
    "mission": "Put a helpful robot in every small workshop.",
    "vision": "By 2030, one in ten workshops in Asia runs an Acme robot that pays for itself "
    "within a year.",
    # (name, parent)
    "teams": [
        ("Engineering", None),
        ("Platform", "Engineering"),
        ("Robot Software", "Engineering"),
        ("Sales & Marketing", None),
    ],
    "people": [
        Person("alice@acme.example", "Alice Chen", Membership.Role.ADMIN),
        Person(
            "bob@acme.example",
            "Bob Lin",
            Membership.Role.MANAGER,
            "Engineering",
            True,
            "alice@acme.example",
        ),
        Person(
            "dana@acme.example",
            "Dana Wu",
            Membership.Role.MANAGER,
            "Sales & Marketing",
            True,
            "alice@acme.example",
        ),
        Person(
            "erin@acme.example",
            "Erin Huang",
            team="Platform",
            manager="bob@acme.example",
            okr_master=True,
        ),
        Person(
            "carol@acme.example", "Carol Tsai", team="Robot Software", manager="bob@acme.example"
        ),
        Person(
            "frank@acme.example",
            "Frank Lee",
            team="Platform",
            lead=True,
            manager="bob@acme.example",
        ),
        Person(
            "grace@acme.example",
            "Grace Kuo",
            team="Robot Software",
            lead=True,
            manager="bob@acme.example",
            language="zh-hant",
        ),
        Person(
            "heidi@acme.example",
            "Heidi Yang",
            team="Robot Software",
            manager="grace@acme.example",
            time_zone="Europe/Berlin",
        ),
        Person(
            "ivan@acme.example",
            "Ivan Petrov",
            team="Platform",
            manager="frank@acme.example",
            time_zone="Europe/Berlin",
        ),
        Person(
            "judy@acme.example", "Judy Chang", team="Sales & Marketing", manager="dana@acme.example"
        ),
        Person(
            "ken@acme.example",
            "Ken Wang",
            team="Sales & Marketing",
            manager="dana@acme.example",
            time_zone="America/Los_Angeles",
        ),
        Person(
            "lena@acme.example",
            "Lena Hsu",
            team="Sales & Marketing",
            manager="dana@acme.example",
            language="zh-hant",
        ),
    ],
}

GLOBEX = {
    "name": "Globex",
    "slug": "globex",
    "time_zone": "America/New_York",
    "mission": "Make logistics boring again.",
    "vision": "Every parcel on time, everywhere, by 2029.",
    "teams": [("Operations", None)],
    "people": [
        Person(
            "hank@globex.example",
            "Hank Scorpio",
            Membership.Role.ADMIN,
            time_zone="America/New_York",
        ),
        Person(
            "mallory@globex.example",
            "Mallory Jones",
            Membership.Role.MANAGER,
            "Operations",
            True,
            "hank@globex.example",
            time_zone="America/New_York",
        ),
        Person(
            "oscar@globex.example",
            "Oscar Diaz",
            team="Operations",
            manager="mallory@globex.example",
            time_zone="America/Chicago",
        ),
    ],
}


def seed_organization(spec: dict) -> Organization:
    org, _ = Organization.objects.update_or_create(
        slug=spec["slug"],
        defaults={
            "name": spec["name"],
            "time_zone": spec["time_zone"],
            "mission": spec["mission"],
            "vision": spec["vision"],
        },
    )
    teams: dict[str, Team] = {}
    for name, parent in spec["teams"]:
        teams[name], _ = Team.objects.for_org(org).update_or_create(
            organization=org,
            slug=slugify(name),
            defaults={"name": name, "parent": teams.get(parent)},
        )
    memberships: dict[str, Membership] = {}
    for person in spec["people"]:
        user = User.objects.filter(email=person.email).first()
        if user is None:
            user = User.objects.create_user(person.email, DEMO_PASSWORD, full_name=person.name)
        else:
            user.full_name = person.name
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["full_name", "password"])
        memberships[person.email], _ = Membership.objects.for_org(org).update_or_create(
            organization=org,
            user=user,
            defaults={
                "role": person.role,
                "is_okr_master": person.okr_master,
                "time_zone": person.time_zone,
                "language": person.language,
                "active": True,
            },
        )
    for person in spec["people"]:
        membership = memberships[person.email]
        membership.manager = memberships.get(person.manager) if person.manager else None
        membership.save(update_fields=["manager"])
        if person.team:
            TeamMembership.objects.for_org(org).update_or_create(
                organization=org,
                team=teams[person.team],
                membership=membership,
                defaults={"is_lead": person.lead},
            )
    return org
