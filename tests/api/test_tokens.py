"""Personal API tokens: made and revoked on the profile page, shown once, stored hashed,
one organisation each, dead the moment they are revoked or their person loses access."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from okrapp import services
from okrapp.models import ApiToken, Membership
from tests.api.conftest import make_token, url

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"okr_\d+_[A-Za-z0-9_-]{40,}")


def _bearer(secret, keyword="Bearer"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {secret}")
    return client


def test_a_person_creates_a_token_on_the_profile_page_and_sees_the_secret_once(
    client, login, carol, acme
):
    login(carol)
    response = client.post(
        reverse("api_token_create", kwargs={"org_slug": acme.slug}), {"name": "weekly export"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secrets_shown = SECRET.findall(response.content.decode())
    assert len(secrets_shown) == 1
    secret = secrets_shown[0]

    token = ApiToken.objects.for_org(acme).get()
    assert token.membership == carol
    assert token.name == "weekly export"
    # Only the hash is stored; the page shows just the prefix from now on.
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.key_prefix, token.key_hash, token.name}
    assert secret.startswith(token.key_prefix)
    page = client.get(reverse("profile", kwargs={"org_slug": acme.slug}))
    assert page.status_code == 200
    assert secret not in page.content.decode()
    assert token.key_prefix in page.content.decode()

    # The secret works for the API, as Carol.
    response = _bearer(secret).get(url(acme, "cycles/"))
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_htmx_form_gets_the_token_section_only(client, login, carol, acme):
    login(carol)
    response = client.post(
        reverse("api_token_create", kwargs={"org_slug": acme.slug}),
        {"name": "ci"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="api-tokens"' in body
    assert "<html" not in body
    assert len(SECRET.findall(body)) == 1


def test_a_token_needs_a_name(client, login, carol, acme):
    login(carol)
    response = client.post(
        reverse("api_token_create", kwargs={"org_slug": acme.slug}), {"name": "  "}
    )
    assert response.status_code == 400
    assert not ApiToken.objects.for_org(acme).exists()


def test_token_create_is_post_only(client, login, carol, acme):
    login(carol)
    assert (
        client.get(reverse("api_token_create", kwargs={"org_slug": acme.slug})).status_code == 405
    )


def test_revoking_a_token_stops_it_at_once(client, login, carol, acme):
    secret = make_token(carol)
    token = ApiToken.objects.for_org(acme).get()
    assert _bearer(secret).get(url(acme, "cycles/")).status_code == 200

    login(carol)
    response = client.post(
        reverse("api_token_revoke", kwargs={"org_slug": acme.slug, "token_id": token.pk})
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None

    response = _bearer(secret).get(url(acme, "cycles/"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API token."}
    page = client.get(reverse("profile", kwargs={"org_slug": acme.slug}))
    assert "Revoked" in page.content.decode()


def test_nobody_revokes_someone_elses_token(client, login, alice, carol, acme):
    make_token(carol)
    token = ApiToken.objects.for_org(acme).get()
    login(alice)  # even an admin: people manage their own tokens; deactivation stops them all
    response = client.post(
        reverse("api_token_revoke", kwargs={"org_slug": acme.slug, "token_id": token.pk})
    )
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_deactivated_members_token_stops_working_at_once(alice, carol, acme):
    secret = make_token(carol)
    assert _bearer(secret).get(url(acme, "objectives/")).status_code == 200
    services.membership_deactivate(org=acme, by=alice, membership=carol)
    assert _bearer(secret).get(url(acme, "objectives/")).status_code == 401
    services.membership_reactivate(org=acme, by=alice, membership=carol)
    assert _bearer(secret).get(url(acme, "objectives/")).status_code == 200
    carol.user.is_active = False
    carol.user.save(update_fields=["is_active"])
    assert _bearer(secret).get(url(acme, "objectives/")).status_code == 401


def test_token_keyword_is_accepted_too(carol, acme):
    assert _bearer(make_token(carol), keyword="Token").get(url(acme, "cycles/")).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Bearer okr_1_made-up-secret-that-is-long-enough-to-look-real",
        "Bearer okr_x_abc",
        "Bearer okr_99999999999999999999999_abc",
        "Bearer",
        "Bearer two parts",
        "Token ",
    ],
)
def test_bad_tokens_get_401_with_a_json_message(header, acme, carol):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(url(acme, "cycles/"))
    assert response.status_code == 401
    assert "detail" in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_changed_organisation_id_in_the_token_does_not_help(carol, acme, globex, mallory):
    secret = make_token(carol)
    forged = secret.replace(f"okr_{acme.pk}_", f"okr_{globex.pk}_", 1)
    assert _bearer(forged).get(url(globex, "cycles/")).status_code == 401


def test_anonymous_gets_401_not_a_login_page(api, acme, carol):
    response = api.get(url(acme, "cycles/"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_token_belongs_to_one_organisation(alice, mallory, acme, globex):
    # Alice is a member of Globex too, but her Acme token is not valid there.
    Membership.objects.create(organization=globex, user=alice.user, role="member")
    acme_secret = make_token(alice)
    assert _bearer(acme_secret).get(url(acme, "cycles/")).status_code == 200
    response = _bearer(acme_secret).get(url(globex, "cycles/"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_last_used_is_written_at_most_once_a_minute(carol, acme):
    secret = make_token(carol)
    client = _bearer(secret)
    client.get(url(acme, "cycles/"))
    first = ApiToken.objects.for_org(acme).get().last_used_at
    client.get(url(acme, "cycles/"))
    assert ApiToken.objects.for_org(acme).get().last_used_at == first
    ApiToken.objects.for_org(acme).update(last_used_at=timezone.now() - timedelta(minutes=5))
    client.get(url(acme, "cycles/"))
    assert ApiToken.objects.for_org(acme).get().last_used_at > first


def test_session_authentication_works_and_enforces_csrf(as_session, alice, acme):
    strict = as_session(alice, enforce_csrf_checks=True)
    assert strict.get(url(acme, "cycles/")).status_code == 200
    body = {"name": "Q9", "start_date": "2030-01-01", "end_date": "2030-03-31"}
    response = strict.post(url(acme, "cycles/"), body, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    # A token needs no CSRF token: it is not sent by the browser on its own.
    token_client = _bearer(make_token(alice))
    assert token_client.post(url(acme, "cycles/"), body, format="json").status_code == 201


def test_a_token_does_not_open_html_pages(carol, acme):
    client = _bearer(make_token(carol))
    response = client.get(reverse("org_home", kwargs={"org_slug": acme.slug}))
    assert response.status_code == 302  # to the login page: tokens are for the API only


def test_a_person_may_keep_twenty_live_tokens(carol, acme):
    for n in range(services.API_TOKENS_PER_PERSON):
        make_token(carol, name=f"t{n}")
    with pytest.raises(services.ValidationError):
        make_token(carol, name="one too many")
