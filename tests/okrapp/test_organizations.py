"""Signing up, creating an organisation, mission and vision, settings."""

import pytest
from django.urls import URLResolver, get_resolver, reverse

from okrapp.models import RESERVED_SLUGS, Membership, Organization, User

pytestmark = pytest.mark.django_db


def test_reserved_slugs_cover_every_top_level_path():
    for entry in get_resolver().url_patterns:
        route = str(entry.pattern)
        first = route.split("/")[0].strip("^$")
        if first and "<" not in first:
            assert first in RESERVED_SLUGS, f"/{first}/ must be a reserved organisation address"
        if isinstance(entry, URLResolver) and not first:
            pytest.fail("an include at the root would hide organisation addresses")


def test_sign_up_then_create_an_organisation(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "Founder@Example.com",
            "full_name": "Fay Founder",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302
    assert response.url == reverse("organization_create")
    user = User.objects.get(email="founder@example.com")
    assert user.full_name == "Fay Founder"

    response = client.post(
        reverse("organization_create"),
        {"name": "Initech", "slug": "initech", "time_zone": "Europe/Berlin", "language": "en"},
    )
    org = Organization.objects.get(slug="initech")
    assert response.status_code == 302
    assert response.url == reverse("org_mission", kwargs={"org_slug": "initech"})
    creator = Membership.objects.for_org(org).get(user=user)
    assert creator.role == Membership.Role.ADMIN
    assert creator.time_zone == "Europe/Berlin"


@pytest.mark.parametrize("slug", ["accounts", "api", "admin", "static", "healthz", "Admin"])
def test_reserved_addresses_are_refused_with_a_message(client, login, alice, slug):
    login(alice)
    response = client.post(
        reverse("organization_create"),
        {"name": "Sneaky", "slug": slug, "time_zone": "UTC", "language": "en"},
    )
    assert response.status_code == 400
    assert "is reserved for the application" in response.content.decode()
    assert 'value="Sneaky"' in response.content.decode()  # what was typed is kept
    assert not Organization.objects.filter(name="Sneaky").exists()


def test_a_taken_address_is_refused(client, login, alice, acme):
    login(alice)
    response = client.post(
        reverse("organization_create"),
        {"name": "Acme Two", "slug": "acme", "time_zone": "UTC", "language": "en"},
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode() or "taken" in response.content.decode()


def test_home_goes_straight_to_the_only_organisation(client, login, carol, acme):
    login(carol)
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == f"/{acme.slug}/"


def test_home_lists_several_organisations(client, carol, globex):
    Membership.objects.create(organization=globex, user=carol.user)
    client.force_login(carol.user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/")
    assert response.status_code == 200
    assert "Acme Robotics" in response.content.decode()
    assert "Globex" in response.content.decode()


def test_home_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_admin_states_mission_and_vision(client, login, alice, acme):
    acme.mission = acme.vision = ""
    acme.save()
    login(alice)
    url = reverse("org_mission", kwargs={"org_slug": "acme"})
    response = client.post(url, {"mission": "Build useful robots.", "vision": "", "next": "invite"})
    assert response.status_code == 400  # both are required
    assert "Build useful robots." in response.content.decode()
    response = client.post(
        url, {"mission": "Build useful robots.", "vision": "Everywhere.", "next": "invite"}
    )
    assert response.status_code == 302
    assert response.url == reverse("member_invite", kwargs={"org_slug": "acme"})
    acme.refresh_from_db()
    assert (acme.mission, acme.vision) == ("Build useful robots.", "Everywhere.")


def _settings_data(**overrides):
    data = {
        "name": "Acme Robotics",
        "mission": "m",
        "vision": "v",
        "time_zone": "Asia/Taipei",
        "language": "en",
        "fiscal_year_start_month": "4",
        "checkin_weekday": "4",
        "escalation_grace_days": "2",
        "checkin_hour": "9",
    }
    data.update(overrides)
    return data


def test_admin_changes_organisation_settings(client, login, alice, acme):
    login(alice)
    url = reverse("org_settings", kwargs={"org_slug": "acme"})
    assert client.get(url).status_code == 200
    response = client.post(url, _settings_data())
    assert response.status_code == 302
    acme.refresh_from_db()
    assert (acme.fiscal_year_start_month, acme.checkin_weekday, acme.checkin_hour) == (4, 4, 9)


@pytest.mark.parametrize(
    "field,value",
    [
        ("checkin_hour", "25"),
        ("checkin_hour", "nine"),
        ("time_zone", "Mars/Olympus"),
        ("fiscal_year_start_month", "13"),
        ("name", ""),
    ],
)
def test_bad_settings_get_a_message_and_keep_the_input(client, login, alice, acme, field, value):
    login(alice)
    url = reverse("org_settings", kwargs={"org_slug": "acme"})
    response = client.post(url, _settings_data(mission="Kept mission text", **{field: value}))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Kept mission text" in body
    assert 'class="errorlist' in body or "error" in body
    acme.refresh_from_db()
    assert acme.mission != "Kept mission text"


def test_profile_sets_name_time_zone_and_language(client, login, carol, acme):
    login(carol)
    url = reverse("profile", kwargs={"org_slug": "acme"})
    response = client.post(
        url, {"full_name": "Carol T.", "time_zone": "Europe/Paris", "language": "zh-hant"}
    )
    assert response.status_code == 302
    carol.refresh_from_db()
    carol.user.refresh_from_db()
    assert (carol.user.full_name, carol.time_zone, carol.language) == (
        "Carol T.",
        "Europe/Paris",
        "zh-hant",
    )
    response = client.post(url, {"full_name": "", "time_zone": "Nowhere", "language": "xx"})
    assert response.status_code == 400
