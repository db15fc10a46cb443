"""Prepared statements on PostgreSQL: a query repeated on a connection is planned once,
except inside ``custom_plans()`` (the dashboards' aggregates), which prepares nothing."""

import pytest
from django.conf import settings
from django.db import connection

from okrapp.db import custom_plans
from okrapp.models import Organization

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan cache"),
]


def _prepared() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        return cursor.fetchone()[0]


def _repeat(org, times=6):
    for _ in range(times):
        Organization.objects.filter(pk=org.pk, slug=org.slug, name__startswith="A").exists()


def test_settings_turn_on_server_side_binding():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 2


def test_a_repeated_query_is_prepared(acme):
    before = _prepared()
    _repeat(acme)
    assert _prepared() == before + 1


def test_custom_plans_prepare_nothing_and_restore_the_threshold(acme):
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    before = _prepared()
    with custom_plans():
        _repeat(acme)
        assert connection.connection.prepare_threshold is None
    assert _prepared() == before
    assert connection.connection.prepare_threshold == threshold == 2
