"""Production settings plus the bench's baseline page; used only by ``bench/run``.

Everything comes from ``okrapp.settings`` (DEBUG off, PostgreSQL and Redis from the
environment); the only change is the URLconf, which adds ``/<org_slug>/bench-baseline/``
so the baseline is measured behind the very same middleware and tenant resolution.
"""

from okrapp.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
