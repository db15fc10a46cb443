"""Shared pieces of the browser journeys (pytest-playwright, headless Chromium, ``live_server``).

Fixtures, each documented below:

- ``log_in(who, ...)`` / ``log_out()``: sign in through the login page as a persona (a
  ``Membership`` of ``tests/conftest.py`` or an email address) and out with the header button.
- ``active_cycle(...)``: an active cycle around today (the suite runs on the real clock),
  created by alice through the services.
- ``ending_quarter``: a cycle ending in three days with one key result of carol's.
- ``mails``: the mails sent so far (``mails.to(address)``, ``mails.wait_for(...)`` for mails a
  real Celery worker sends from its thread).
- ``celery_worker``: a real Celery worker in a thread for the test (Redis when ``REDIS_URL`` is
  set, Kombu's in-memory broker otherwise); tasks are queued, not run eagerly.
- ``screenshot(page, name)``: saves ``docs/screenshots/<name>.png`` when ``SCREENSHOTS=1``.

Every browser test runs at the fixed viewport ``VIEWPORT`` so screenshots and layouts match.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from cycles import services as okr
from cycles.models import Level
from okrapp.celery import app as celery_app
from okrapp.models import Membership
from tests.factories import PASSWORD

VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT}


# --- Personas ------------------------------------------------------------------------------------


@pytest.fixture
def log_in(live_server, page: Page):
    """``log_in(who, password=PASSWORD, lands_on=r"/acme/$")`` signs in on the login page.

    ``who`` is a ``Membership`` or an email address; ``lands_on`` is a regular expression the
    address must match afterwards (the organisation's home by default).
    """

    def _log_in(
        who: Membership | str, *, password: str = PASSWORD, lands_on: str = r"/acme/$"
    ) -> None:
        email = who if isinstance(who, str) else who.user.email
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", password)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(lands_on))

    return _log_in


@pytest.fixture
def log_out(page: Page):
    """``log_out()`` presses the header's "Log out" button and waits for the logged-out page."""

    def _log_out() -> None:
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    return _log_out


# --- Data ----------------------------------------------------------------------------------------


@pytest.fixture
def active_cycle(acme, alice):
    """``active_cycle(name="This quarter", starts=today-30d, ends=today+60d)``: alice creates
    the cycle and moves it through planning to active."""

    def _active_cycle(
        name: str = "This quarter", *, starts: date | None = None, ends: date | None = None
    ):
        today = date.today()
        cycle = okr.cycle_create(
            org=acme,
            by=alice,
            name=name,
            start_date=starts or today - timedelta(days=30),
            end_date=ends or today + timedelta(days=60),
        )
        for state in ("planning", "active"):
            cycle = okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
        return cycle

    return _active_cycle


@pytest.fixture
def ending_quarter(acme, carol, active_cycle):
    """An active cycle ending in three days with carol's committed objective and one key
    result at 6 of 10: ``(cycle, kr)``, for the scoring and report journeys."""
    today = date.today()
    cycle = active_cycle(
        "Ending quarter", starts=today - timedelta(days=85), ends=today + timedelta(days=3)
    )
    objective = okr.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Ship the gripper",
        level=Level.INDIVIDUAL,
        owner=carol,
        type="committed",
    )
    kr = okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Sign 10 pilot workshops",
        start_value=D(0),
        target_value=D(10),
        current_value=D(6),
    )
    return cycle, kr


# --- Mail ----------------------------------------------------------------------------------------


class Mails:
    """The mails sent in this test (Django's locmem outbox, shared with worker threads)."""

    def all(self) -> list:
        return list(mail.outbox)

    def to(self, address: str) -> list:
        return [m for m in mail.outbox if address in m.to]

    def wait_for(
        self,
        address: str,
        subject: str | re.Pattern = "",
        *,
        count: int = 1,
        timeout: float = 20,
    ) -> list:
        """The mails to ``address`` whose subject contains (or matches) ``subject``, once
        there are ``count`` of them; fails after ``timeout`` seconds."""

        def matching():
            return [
                m
                for m in self.to(address)
                if (
                    subject.search(m.subject)
                    if isinstance(subject, re.Pattern)
                    else subject in m.subject
                )
            ]

        deadline = time.monotonic() + timeout
        while len(matching()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        found = matching()
        assert len(found) >= count, (
            f"expected {count} mail(s) to {address} about {subject!r}; "
            f"sent: {[(m.to, m.subject) for m in mail.outbox]}"
        )
        return found

    @staticmethod
    def link(message, pattern: str) -> str:
        """The path of the first link in the mail's text that matches ``pattern``."""
        found = re.search(rf"https?://[^/\s]+({pattern}\S*)", message.body)
        assert found, f"no link matching {pattern!r} in:\n{message.body}"
        return found.group(1)


@pytest.fixture
def mails() -> Mails:
    return Mails()


# --- A real Celery worker ------------------------------------------------------------------------


def _reset_broker_pools() -> None:
    """Forget pooled broker connections, so a changed broker URL takes effect."""
    from kombu import pools

    # kombu keeps the pools in a registry of its own: closing only the app's pool left the
    # closed one there, handed back to the next test ("Acquire on closed pool").
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def celery_worker(transactional_db):
    """A real worker (solo pool) in a thread for the whole test.

    On Redis when ``REDIS_URL`` is set (CI); otherwise on Kombu's in-memory broker, which the
    test, the live server and the worker share because they run in one process. The worker
    thread has its own database connection, so the test must be transactional.
    """
    from celery.contrib.testing.worker import start_worker

    conf = celery_app.conf
    saved = {
        key: conf[key] for key in ("broker_url", "broker_transport_options", "task_always_eager")
    }
    if not os.environ.get("REDIS_URL"):
        conf.broker_url = "memory://"
        conf.broker_transport_options = {}
    conf.task_always_eager = False
    _reset_broker_pools()
    celery_app.control.purge()  # nothing left over from an earlier run
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"
        ) as worker:
            yield worker
    finally:
        for key, value in saved.items():
            conf[key] = value
        _reset_broker_pools()


# --- Screenshots ---------------------------------------------------------------------------------


def _optimise_png(raw: bytes) -> bytes:
    """A palette PNG (256 colours) is a third of the size and looks the same for UI pages."""
    try:
        from PIL import Image
    except ImportError:
        return raw
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path | None]:
    """``screenshot(page, "my-week")`` saves the viewport to ``docs/screenshots/my-week.png``
    when the environment has ``SCREENSHOTS=1``; otherwise it does nothing (CI does not rewrite
    the tree)."""
    enabled = os.environ.get("SCREENSHOTS") == "1"

    def _screenshot(page: Page, name: str, *, full_page: bool = False) -> Path | None:
        if not enabled:
            return None
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")  # the top of the page, whatever had focus
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        path.write_bytes(_optimise_png(page.screenshot(full_page=full_page, animations="disabled")))
        return path

    return _screenshot
