"""Logging in by email, logging out, password reset by mail, and the login rate limit."""

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_log_in_by_email_and_out(client, carol, password, acme):
    response = client.post(
        reverse("account_login"), {"login": "CAROL@acme.example", "password": password}
    )
    assert response.status_code == 302
    assert client.get(f"/{acme.slug}/").status_code == 200
    client.post(reverse("account_logout"))
    assert client.get(f"/{acme.slug}/").status_code == 302


def test_a_wrong_password_gets_a_message(client, carol):
    response = client.post(
        reverse("account_login"), {"login": "carol@acme.example", "password": "wrong"}
    )
    assert response.status_code == 400
    assert "not correct" in response.content.decode()


def test_login_failures_are_rate_limited(client, carol, password):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": "carol@acme.example", "password": "x"})
    response = client.post(
        reverse("account_login"), {"login": "carol@acme.example", "password": password}
    )
    # Even the right password is refused while the limit holds.
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_by_mail(client, carol):
    response = client.post(reverse("account_reset_password"), {"email": "carol@acme.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/password/reset/key/\S+", mail.outbox[0].body).group(0)
    path = "/" + link.split("/", 3)[3]
    response = client.get(path, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else path
    response = client.post(
        form_url, {"password1": "brand-new-secret-42", "password2": "brand-new-secret-42"}
    )
    assert response.status_code == 302
    carol.user.refresh_from_db()
    assert carol.user.check_password("brand-new-secret-42")


def test_csrf_is_enforced_on_posts(carol, acme):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(carol.user, backend="django.contrib.auth.backends.ModelBackend")
    response = strict.post(
        reverse("profile", kwargs={"org_slug": "acme"}),
        {"full_name": "x", "time_zone": "UTC", "language": "en"},
    )
    assert response.status_code == 403


def test_htmx_posts_carry_the_csrf_token_from_the_body_hx_headers(alice, acme, engineering):
    """base.html puts the token in ``hx-headers`` on ``<body>``; htmx sends it as the
    ``X-CSRFToken`` header of every request. With the header a POST passes, without 403."""
    import json

    from django.test import Client

    from okrapp.models import TeamMembership

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice.user, backend="django.contrib.auth.backends.ModelBackend")
    page = strict.get(
        reverse("team_detail", kwargs={"org_slug": acme.slug, "team_slug": engineering.slug})
    )
    assert page.status_code == 200
    body_tag = re.search(r"<body\b[^>]*>", page.content.decode()).group(0)
    headers = json.loads(re.search(r"hx-headers='([^']*)'", body_tag).group(1))
    token = headers["X-CSRFToken"]
    assert token and token != "NOTPROVIDED"

    url = reverse("team_member_add", kwargs={"org_slug": acme.slug, "team_slug": engineering.slug})
    refused = strict.post(url, {"membership": alice.pk}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert not TeamMembership.objects.for_org(acme).filter(membership=alice).exists()

    added = strict.post(
        url, {"membership": alice.pk}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token
    )
    assert added.status_code == 200
    assert "<html" not in added.content.decode()  # the htmx partial
    assert TeamMembership.objects.for_org(acme).filter(membership=alice).exists()
