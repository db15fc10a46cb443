"""The suite itself runs under row-level security on PostgreSQL (tests/conftest.py).

Every connection of the test process is the application role, test code outside requests is
in system scope, and a connection another thread opens (live_server, an in-thread worker)
starts with no scope at all, as a web or worker process does. ``OKRAPP_TEST_RLS=0`` turns
it off; then these are skipped.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.db.utils import ProgrammingError

from okrapp import rls
from okrapp.models import Team
from tests.conftest import APP_ROLE, _rls_wanted
from tests.factories import TeamFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not _rls_wanted(),
    reason="the suite enforces row-level security on PostgreSQL unless OKRAPP_TEST_RLS=0",
)


def _whoami(conn=connection) -> tuple:
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('okrapp.org', true)")
        return cursor.fetchone()


def test_test_code_runs_as_the_application_role_in_system_scope(acme, globex):
    # System scope: the application role switched to the system role.
    assert _whoami() == (rls.SYSTEM_ROLE, "")
    TeamFactory(organization=acme)
    TeamFactory(organization=globex)
    assert set(Team.all_tenants.values_list("organization_id", flat=True)) == {acme.pk, globex.pk}


def test_an_organisation_scope_hides_the_other_organisation(acme, globex):
    TeamFactory(organization=globex)
    with rls.org_scope(acme):
        assert not Team.all_tenants.filter(organization=globex).exists()
        with pytest.raises(ProgrammingError, match="row-level security"):
            TeamFactory(organization=globex)


def test_a_request_narrows_and_then_restores_system_scope(acme, alice, login):
    client = login(alice)
    assert client.get(f"/{acme.slug}/").status_code in {200, 302}
    assert _whoami() == (rls.SYSTEM_ROLE, "")


@pytest.mark.django_db(transaction=True)
def test_another_threads_connection_is_the_role_with_no_scope(acme):
    seen = []

    def look():
        try:
            seen.append((_whoami(connections["default"]), Team.all_tenants.count()))
        finally:
            connections.close_all()

    TeamFactory(organization=acme)
    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    assert seen == [((APP_ROLE, ""), 0)]


@pytest.mark.superuser_db(reason="checks the opt-out itself")
def test_a_superuser_db_test_runs_as_the_superuser(db):
    user, _org = _whoami()
    assert user != APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (True,)
