"""The deployment shape: compose file, production settings, CI services, run/test entry points."""

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}


def _command(service: dict) -> str:
    command = service.get("command", "")
    if isinstance(command, list):
        command = " ".join(str(part) for part in command)
    return " ".join(command.split())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_has_every_service(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert name in services, f"docker-compose.yml has no {name!r} service"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    catchers = [
        name
        for name, service in services.items()
        if any(word in str(service.get("image", "")) for word in ("mailpit", "mailhog", "smtp4dev"))
    ]
    assert catchers, "docker-compose.yml has no mail catcher"


def test_compose_keeps_the_broker_and_the_cache_on_redis_servers_of_their_own(compose):
    """One Redis has one eviction policy: the broker must lose no key, the cache must stay
    bounded by evicting."""
    services = compose["services"]
    broker, cache = _command(services["redis"]), _command(services["cache"])
    assert services["cache"]["image"].startswith("redis:")
    assert "--maxmemory-policy noeviction" in broker and "--appendonly yes" in broker
    assert "--maxmemory-policy allkeys-lru" in cache and "--maxmemory " in cache
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:"), name
        assert env["CACHE_REDIS_URL"].startswith("redis://cache:"), name
        assert services[name]["depends_on"]["cache"]["condition"] == "service_healthy", name


def _settings_with(env: dict, tmp_path) -> list[str]:
    code = (
        "from okrapp import settings as s; "
        "print(s.CACHES['default']['BACKEND'], s.CACHES['default'].get('LOCATION'), "
        "s.CELERY_BROKER_URL)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CACHE_REDIS_URL")}
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "OKRAPP_VAR_DIR": str(tmp_path / "var"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def test_the_cache_follows_cache_redis_url_and_else_the_brokers_redis(tmp_path):
    both = _settings_with(
        {"REDIS_URL": "redis://broker:6379/0", "CACHE_REDIS_URL": "redis://cache:6379/1"}, tmp_path
    )
    assert both == [
        "okrapp.redis_cache.RedisCache",
        "redis://cache:6379/1",
        "redis://broker:6379/0",
    ]
    shared = _settings_with({"REDIS_URL": "redis://broker:6379/0"}, tmp_path)
    assert shared[1:] == ["redis://broker:6379/0", "redis://broker:6379/0"]
    neither = _settings_with({}, tmp_path)
    assert neither[0].endswith("FileBasedCache") and neither[2] == "filesystem://"


def test_compose_commands(compose):
    services = compose["services"]
    web = _command(services["web"])
    assert "gunicorn" in web and "okrapp.wsgi" in web
    assert "celery -A okrapp worker" in _command(services["worker"])
    assert "celery -A okrapp beat" in _command(services["beat"])
    # Migrations, then the application role and row-level security, run once before the rest.
    migrate = _command(services["migrate"])
    assert "manage.py migrate" in migrate
    assert migrate.index("manage.py migrate") < migrate.index("manage.py db_app_role okrapp_app")
    assert services["migrate"].get("restart") == "no", "a one-shot service must not restart"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_compose_app_connects_as_the_application_role_and_migrates_as_the_owner(compose):
    """Row-level security binds only a role that is not a superuser and owns nothing."""
    services = compose["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith(f"postgres://{owner}:")
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://okrapp_app:"), name
        assert "APP_DB_PASSWORD" not in env, f"{name} needs no role-management secret"
        assert "POSTGRES_PASSWORD" not in " ".join(str(v) for v in env.values()), (
            f"{name} must not know the owner's password"
        )


def test_compose_app_services_share_one_image_and_production_env(compose):
    services = compose["services"]
    builds = [services[name].get("build") for name in ("web", "worker", "beat")]
    assert builds[0] and builds[0] == builds[1] == builds[2]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DEBUG"] == "0"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert env["EMAIL_HOST"]
        assert "SECRET_KEY:?" in env["SECRET_KEY"], "SECRET_KEY must be required, never defaulted"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


# --- production settings -----------------------------------------------------------------------


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "okrapp.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "okr.example.com",
        "SITE_URL": "https://okr.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://okr.example.com",
        "SECURE_COOKIES": "1",
        "OKRAPP_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    # Set by tests/conftest.py for Playwright; a production process never has it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


# --- CI really runs on PostgreSQL and Redis ----------------------------------------------------


@pytest.mark.skipif(not _in_ci(), reason="CI only: the default run uses SQLite and no server")
@pytest.mark.django_db
def test_ci_runs_on_postgresql_and_redis(settings):
    from django.db import connection

    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    # The suite's own subclass (tests.cache_backend): Redis, with per-process clearing.
    assert isinstance(caches["default"], RedisCache)
    assert caches["default"].get("no-such-key") is None  # the server answers

    import redis

    assert redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5).ping()


# --- entry points ------------------------------------------------------------------------------


def test_makefile_has_run_and_test_targets():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("venv", "run", "test", "lint"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"Makefile has no {target} target"


def test_ci_run_is_an_executable_bash_script():
    script = ROOT / ".ci" / "run"
    assert script.is_file()
    assert os.access(script, os.X_OK), ".ci/run must be executable"
    bash = shutil.which("bash")
    assert bash
    result = subprocess.run(  # noqa: S603
        [bash, "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
