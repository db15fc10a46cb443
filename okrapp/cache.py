"""Cached page figures and kept pages, invalidated by per-organisation versions.

The big read-only pages (company view, alignment tree, team dashboards) keep what they
compute in the Django cache (Redis in production) under keys that carry the organisation's
*data version*; whole pages are kept per viewer (:func:`per_viewer`). The write services
that change what those pages show call :func:`bump` (OKRs, cycles, initiatives, reviews,
scores, teams, memberships, names, settings: the *data* and *structure* versions) or
:func:`bump_activity` (check-ins, acknowledgements, comments, kudos: the *data* version
and the versions of the people and key results concerned), so the next request misses
and recomputes: nothing is ever deleted, old entries simply stop being asked for and
expire.

A version is bumped when the write's transaction commits (one Redis round trip): whatever
another request cached until then it read from the old rows, under the old version. The
writing transaction itself sees its own change at once, as it sees its own rows: until its
commit, its reads of the scopes it bumped use keys of their own (:func:`key`), so a page it
draws after the write is drawn afresh (and a test, whose transaction never commits, sees
each write on the next request).

A key also names everything else a cached figure depends on (the cycle, the day, the
language, and what differs between viewers, such as which private objectives they may
not read); see :func:`key`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from functools import wraps

from django.contrib import messages
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.translation import get_language

#: Cached figures expire anyway after this many seconds: it bounds how long a change the
#: services do not announce can take to show (a person who belongs to several
#: organisations renames themselves in one: the others see the new name within this time).
TTL = 600


#: The version every cached figure of an organisation depends on: any announced change.
DATA = "data"
#: Changes to what everyone's pages are built around (cycles, objectives and key results as
#: written, initiatives, scores, teams, memberships, names, settings), not the weekly
#: activity: a check-in elsewhere in the organisation leaves a person's own pages kept.
STRUCTURE = "structure"


def person(membership_id: int) -> str:
    """The scope of one person's activity (their check-ins and what their manager says)."""
    return f"person-{membership_id}"


def key_result(key_result_id: int) -> str:
    """The scope of one key result's activity (check-ins, acknowledgements, comments)."""
    return f"kr-{key_result_id}"


def _version_key(org_id: int, scope: str = DATA) -> str:
    return f"okrapp:{scope}-version:{org_id}"


def version(org) -> int:
    """The organisation's data version (one cache read)."""
    return versions(org, DATA)[0]


def versions(org, *scopes: str) -> list[int]:
    """The current version of each scope (one cache read for them all)."""
    keys = [_version_key(org.pk, scope) for scope in scopes]
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            # A fresh number, never an earlier one: if the version was evicted while
            # entries cached under old numbers were not, starting again at 1 could serve
            # them.
            cache.add(key, time.time_ns(), timeout=None)
            found[key] = cache.get(key)
    return [found[key] for key in keys]


def _increment(org_id: int, scopes: tuple[str, ...]) -> None:
    keys = [_version_key(org_id, scope) for scope in scopes]
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip for them all (Django's incr() asks whether each key exists
        # first): a missing version starts at a fresh number, then moves on.
        pipe = backend._cache.get_client(write=True).pipeline(transaction=False)
        for key in keys:
            raw = backend.make_and_validate_key(key)
            pipe.set(raw, time.time_ns(), nx=True)
            pipe.incr(raw)
        pipe.execute()
        return
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:  # missing (never read, or evicted)
            cache.set(key, time.time_ns(), timeout=None)


def _bump(org, scopes: tuple[str, ...]) -> None:
    """Bump ``scopes`` when the transaction commits: a ``transaction.on_commit`` hook, which
    Django runs after the commit, drops on a rollback and runs at once outside a transaction.
    Until then :func:`key` gives the transaction's own reads keys of their own, named by the
    hook's token."""
    org_id = org.pk

    def bump_versions() -> None:
        _increment(org_id, scopes)

    bump_versions.okrapp_bump = (org_id, frozenset(scopes), secrets.token_hex(8))
    transaction.on_commit(bump_versions, robust=True)


def _own_changes(org_id: int, scopes: tuple[str, ...]) -> str:
    """The token of the newest bump of ``scopes`` this transaction has not committed yet
    ("" when none): the hooks Django keeps for the commit (``connection.run_on_commit``,
    which it empties at a commit or rollback and trims at a rolled-back savepoint) are
    exactly those bumps. A test pins that reading (``tests/checkins/test_page_cache.py``)."""
    connection = transaction.get_connection()
    token = ""
    if connection.in_atomic_block:
        for _savepoints, hook, _robust in connection.run_on_commit:
            org_bumped, bumped, hook_token = getattr(hook, "okrapp_bump", (None, frozenset(), ""))
            if org_bumped == org_id and not bumped.isdisjoint(scopes):
                token = hook_token
    return token


def bump(org) -> None:
    """Say that the organisation's OKRs, teams or people changed: every cached figure and
    kept page of the organisation is stale."""
    _bump(org, (DATA, STRUCTURE))


def bump_activity(org, *, people=(), key_results=()) -> None:
    """Say that the weekly activity of ``people`` on ``key_results`` changed (a check-in,
    an acknowledgement, a comment): the organisation's figures and those people's and key
    results' kept pages are stale, nobody else's."""
    _bump(
        org,
        (DATA, *(person(p) for p in set(people)), *(key_result(k) for k in set(key_results))),
    )


def signature(values) -> str:
    """A short, stable digest of ``values`` (their ``repr``), for a key."""
    return hashlib.blake2b(repr(values).encode(), digest_size=10).hexdigest()


def key(name: str, org, *parts, scopes: tuple[str, ...] = (DATA,)) -> str:
    """The cache key of figure ``name`` of ``org`` at the current versions of ``scopes``
    (the data version unless told otherwise)."""
    current = ":".join(map(str, versions(org, *scopes)))
    own = _own_changes(org.pk, scopes)
    if own:  # read by the transaction that made the change, before its commit
        current = f"{current}:{own}"
    return f"okrapp:page:{name}:{org.pk}:{current}:{signature((scopes, *parts))}"


# --- Whole pages, per viewer ---------------------------------------------------------------------

#: What a cached page holds where each request's CSRF token goes (see ``csrf_hole``).
CSRF_HOLE = "okrapp-csrf-token-hole"


def csrf_hole(request) -> dict:
    """Context processor: while :func:`per_viewer` renders a page to keep, every
    ``{% csrf_token %}`` and ``{{ csrf_token }}`` writes :data:`CSRF_HOLE`, which each answer
    fills with the token of its own request (Django masks a token afresh per request)."""
    return {"csrf_token": CSRF_HOLE} if getattr(request, "okrapp_csrf_hole", False) else {}


def per_viewer(name: str, scopes=None):
    """Cache a tenant page's GET answer per viewer, address, language and organisation day,
    at the versions of ``scopes(request, **view_kwargs)`` (default: the organisation's data
    version): a write that bumps one of them makes the next request render afresh.

    A team dashboard reads the whole team's activity, so it depends on the data version; a
    person's own pages name narrower scopes (:data:`STRUCTURE` and their own
    :func:`person` or :func:`key_result`), so a check-in elsewhere leaves them kept. The
    key names the viewer, so nothing one person may see is served to another. Not kept or
    served: other methods, non-200 answers, requests with messages waiting (they are
    shown once, by the page that renders them), and addresses with a query string (a
    filter, another cycle): the pages people open from the navigation are kept, and what
    one person can make the cache hold stays bounded by the pages they may open."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if (
                request.method != "GET"
                or request.META.get("QUERY_STRING")
                or len(messages.get_messages(request))
            ):
                return view(request, *args, **kwargs)
            org, viewer = request.org, request.membership
            wanted = scopes(request, **kwargs) if scopes else (DATA,)
            page_key = key(
                f"viewer-page:{name}",
                org,
                viewer.pk,
                request.path,
                bool(request.htmx),
                bool(request.htmx and request.htmx.history_restore_request),
                get_language(),
                timezone.localtime(timezone.now(), org.zoneinfo).date(),
                scopes=wanted,
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
