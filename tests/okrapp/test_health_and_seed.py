"""``/healthz`` and ``seed_demo``."""

from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from okrapp.celery import app as celery_app
from okrapp.models import Membership, Organization, Team

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert data["database"]["ok"] and data["broker"]["ok"] and data["cache"]["ok"]
    assert data["cache"]["detail"].endswith("Cache")  # the backend class, not a proxy


def test_healthz_is_503_when_the_cache_is_down(client):
    down = mock.Mock(get=mock.Mock(side_effect=RedisConnectionError("connection refused")))
    with mock.patch("okrapp.views.health.caches", {"default": down}):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == {"ok": False, "detail": "ConnectionError"}
    assert response.json()["broker"]["ok"] is True


def test_healthz_is_503_when_the_broker_is_down(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["database"]["ok"] is True


def test_healthz_is_503_when_the_database_is_down(client):
    with mock.patch(
        "okrapp.views.health.connection.cursor", side_effect=OperationalError("connection refused")
    ):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "detail": "OperationalError"}


def _row_counts() -> dict[str, int]:
    """Rows in every table of the three apps: their models, many-to-many tables and
    django-simple-history's tables (a second run that re-saves a row adds a version)."""
    from django.apps import apps

    return {
        model._meta.db_table: model._base_manager.count()
        for label in ("okrapp", "cycles", "checkins")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }


def test_seed_demo_is_idempotent_and_prints_logins(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _row_counts()
    assert first["okrapp_membership"] and first["cycles_historicalkeyresult"]
    call_command("seed_demo", stdout=StringIO())
    assert _row_counts() == first
    acme = Organization.objects.get(slug="acme")
    globex = Organization.objects.get(slug="globex")
    assert acme.has_mission_and_vision
    assert Team.objects.for_org(acme).count() == 4
    assert Team.objects.for_org(acme).filter(parent__isnull=False).exists()
    people = Membership.objects.for_org(acme)
    assert people.count() >= 12
    assert people.filter(role="admin").count() == 1
    assert people.filter(role="manager").count() == 2
    assert people.filter(is_okr_master=True).count() == 1
    acme_users = set(people.values_list("user_id", flat=True))
    globex_users = set(Membership.objects.for_org(globex).values_list("user_id", flat=True))
    assert globex_users and not (acme_users & globex_users)
    text = out.getvalue()
    assert "alice@acme.example" in text and "okr-demo-2026" in text

    # OKRs: this quarter active, last quarter closed, every level, kind and direction.
    from cycles.models import Cycle, KeyResult, Objective

    states = dict(Cycle.objects.for_org(acme).values_list("state", "name"))
    assert set(states) == {"active", "closed"}
    active = Objective.objects.for_org(acme).filter(cycle__state="active")
    assert set(active.values_list("level", flat=True)) == {1, 2, 3}
    assert set(active.values_list("type", flat=True)) == {"committed", "aspirational"}
    assert active.filter(visibility="private").count() == 1
    krs = KeyResult.objects.for_org(acme).filter(objective__cycle__state="active")
    assert set(krs.values_list("kind", flat=True)) == {"number", "percent", "currency", "milestone"}
    assert set(krs.values_list("direction", flat=True)) == {
        "increase",
        "decrease",
        "stay_at_least",
        "stay_at_most",
        "stay_between",
    }
    assert krs.filter(initiatives__isnull=False).exists()
    assert not Cycle.objects.for_org(globex).exists()


def test_seed_demo_refuses_without_debug_or_force(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", "--force", stdout=StringIO())
    assert Organization.objects.filter(slug="acme").exists()
