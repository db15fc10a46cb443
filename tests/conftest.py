"""The cast: alice (admin), bob (manager), carol (staff), erin (OKR Master) of Acme; and
mallory, admin of Globex, who must never see Acme's data."""

import os
import shutil

import pytest
from django.core.cache import cache
from django.utils import translation

from okrapp.celery import app as celery_app
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

# Playwright's sync API runs an event loop in the test thread; the ORM must still be usable.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _isolated_side_effects(settings, tmp_path):
    """Tasks run in-process; nothing one test counts (rate limits) leaks into the next."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    # The shared cache of this run alone: the file cache of var/ is shared with `make run`
    # and other test runs on the machine; Redis (CI) gets a key prefix of its own.
    redis_url = os.environ.get("REDIS_URL")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"okrapp-test-{os.getpid()}",
        }
        if redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    cache.clear()
    settings.MEDIA_ROOT = tmp_path / "media"
    # Tests render templates without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    cache.clear()
    # A request as a member activates their language on this thread and nothing resets it
    # (in production LocaleMiddleware sets it afresh on each request): a test that renders
    # outside a request must not inherit the last test's Chinese.
    translation.deactivate()


@pytest.fixture
def acme(db):
    return OrganizationFactory(name="Acme Robotics", slug="acme")


@pytest.fixture
def globex(db):
    return OrganizationFactory(name="Globex", slug="globex", time_zone="America/New_York")


def _member(org, email, name, role="member", **extra):
    return MembershipFactory(
        organization=org, user=UserFactory(email=email, full_name=name), role=role, **extra
    )


@pytest.fixture
def alice(acme):
    return _member(acme, "alice@acme.example", "Alice Chen", "admin")


@pytest.fixture
def bob(acme, alice):
    return _member(acme, "bob@acme.example", "Bob Lin", "manager", manager=alice)


@pytest.fixture
def carol(acme, bob):
    return _member(acme, "carol@acme.example", "Carol Tsai", manager=bob)


@pytest.fixture
def erin(acme, bob):
    return _member(acme, "erin@acme.example", "Erin Huang", manager=bob, is_okr_master=True)


@pytest.fixture
def mallory(globex):
    return _member(globex, "mallory@globex.example", "Mallory Jones", "admin")


@pytest.fixture
def engineering(acme, bob, carol):
    team = TeamFactory(organization=acme, name="Engineering", slug="engineering")
    TeamMembershipFactory(organization=acme, team=team, membership=bob, is_lead=True)
    TeamMembershipFactory(organization=acme, team=team, membership=carol)
    return team


@pytest.fixture
def login(client):
    """``login(membership)`` signs the test client in as that person."""

    def _login(membership):
        client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login


@pytest.fixture
def password():
    return PASSWORD


# --- Browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (Playwright's own download is not available here)."""
    return {
        **browser_type_launch_args,
        "executable_path": shutil.which("chromium") or shutil.which("chromium-browser"),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
