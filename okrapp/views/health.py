"""``GET /healthz``: are the database, the broker and the cache reachable?"""

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from okrapp.celery import app as celery_app


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; report its kind, not a 500
        return False, type(exc).__name__
    return True, connection.vendor


def _broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # any failure means "down"; report its kind, not a 500
        return False, type(exc).__name__
    return True, str(transport)


def _cache_ok() -> tuple[bool, str]:
    # Pages and the login rate limit read it: with its own Redis (CACHE_REDIS_URL) it can be
    # down while the broker is up.
    backend = caches[DEFAULT_CACHE_ALIAS]
    try:
        backend.get("okrapp:healthz")
    except Exception as exc:  # any failure means "down"; report its kind, not a 500
        return False, type(exc).__name__
    return True, type(backend).__name__


@never_cache
@require_GET
def healthz(request):
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    cache_ok, cache_detail = _cache_ok()
    healthy = db_ok and broker_ok and cache_ok
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "database": {"ok": db_ok, "detail": db_detail},
            "broker": {"ok": broker_ok, "detail": broker_detail},
            "cache": {"ok": cache_ok, "detail": cache_detail},
        },
        status=200 if healthy else 503,
    )
