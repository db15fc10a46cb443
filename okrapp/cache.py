"""Cached page figures, invalidated by a per-organisation data version.

The big read-only pages (company view, alignment tree) keep what they compute in the
Django cache (Redis in production) under keys that carry the organisation's *data
version*. The write services that change what those pages show (check-ins, OKRs, teams,
memberships and names) call :func:`bump`, so the next request misses and recomputes:
nothing is ever deleted, old entries simply stop being asked for and expire.

The version is bumped at once and again when the transaction commits: the first makes the
writer's own next page fresh (and works inside a test's transaction, where commit hooks do
not run), the second throws away anything a concurrent request cached between the first
bump and the commit while it still read the old rows.

A key also names everything else a cached figure depends on (the cycle, the day, the
language, and what differs between viewers, such as which private objectives they may
not read); see :func:`key`.
"""

from __future__ import annotations

import hashlib
import time
from functools import wraps

from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.translation import get_language

#: Cached figures expire anyway after this many seconds: it bounds how long a change the
#: services do not announce can take to show (a person who belongs to several
#: organisations renames themselves in one: the others see the new name within this time).
TTL = 600


def _version_key(org_id: int) -> str:
    return f"okrapp:data-version:{org_id}"


def version(org) -> int:
    """The organisation's data version (one cache read)."""
    key = _version_key(org.pk)
    value = cache.get(key)
    if value is None:
        # A fresh number, never an earlier one: if the version was evicted while entries
        # cached under old numbers were not, starting again at 1 could serve them.
        cache.add(key, time.time_ns(), timeout=None)
        value = cache.get(key)
    return value


def _increment(org_id: int) -> None:
    key = _version_key(org_id)
    try:
        cache.incr(key)
    except ValueError:  # missing (never read, or evicted)
        cache.set(key, time.time_ns(), timeout=None)


def bump(org) -> None:
    """Say that the organisation's OKRs or check-ins changed: cached figures are stale."""
    org_id = org.pk
    _increment(org_id)
    transaction.on_commit(lambda: _increment(org_id), robust=True)


def signature(values) -> str:
    """A short, stable digest of ``values`` (their ``repr``), for a key."""
    return hashlib.blake2b(repr(values).encode(), digest_size=10).hexdigest()


def key(name: str, org, *parts) -> str:
    """The cache key of figure ``name`` of ``org`` at its current data version."""
    return f"okrapp:page:{name}:{org.pk}:{version(org)}:{signature(parts)}"


# --- Whole pages, per viewer ---------------------------------------------------------------------

#: What a cached page holds where each request's CSRF token goes (see ``csrf_hole``).
CSRF_HOLE = "okrapp-csrf-token-hole"


def csrf_hole(request) -> dict:
    """Context processor: while :func:`per_viewer` renders a page to keep, every
    ``{% csrf_token %}`` and ``{{ csrf_token }}`` writes :data:`CSRF_HOLE`, which each answer
    fills with the token of its own request (Django masks a token afresh per request)."""
    return {"csrf_token": CSRF_HOLE} if getattr(request, "okrapp_csrf_hole", False) else {}


def per_viewer(name: str):
    """Cache a tenant page's GET answer per viewer, address, language and organisation day,
    at the organisation's data version: a write that bumps it (check-ins, OKRs,
    acknowledgements, teams, memberships, names) makes the next request render afresh.

    For pages that read a lot of shared data and show it to one viewer (a team dashboard):
    the key names the viewer, so nothing one person may see is served to another. Not
    kept or served: other methods, non-200 answers, and requests with messages waiting
    (they are shown once, by the page that renders them)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "GET" or len(messages.get_messages(request)):
                return view(request, *args, **kwargs)
            org, viewer = request.org, request.membership
            page_key = key(
                f"viewer-page:{name}",
                org,
                viewer.pk,
                request.get_full_path(),
                bool(request.htmx),
                bool(request.htmx and request.htmx.history_restore_request),
                get_language(),
                timezone.localtime(timezone.now(), org.zoneinfo).date(),
            )
            html = cache.get(page_key)
            if html is not None:
                return HttpResponse(html.replace(CSRF_HOLE, get_token(request)))
            request.okrapp_csrf_hole = True
            try:
                response = view(request, *args, **kwargs)
            finally:
                request.okrapp_csrf_hole = False
            if response.streaming:
                return response
            html = response.content.decode()
            if response.status_code == 200:
                cache.set(page_key, html, TTL)
            if CSRF_HOLE in html:
                response.content = html.replace(CSRF_HOLE, get_token(request))
            return response

        return wrapper

    return decorator
