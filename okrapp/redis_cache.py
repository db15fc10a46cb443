"""Django's Redis cache, with one Redis client per connection pool instead of one per call.

Django's ``RedisCacheClient.get_client()`` builds a new ``redis.Redis`` around the
connection pool for every cache operation. Building one copies the client's table of ~170
response callbacks: about 0.3 ms on a 2-core machine, paid by every kept page's version
read and every check-in's version bump. A ``redis.Redis`` is meant to be shared (the pool
hands each command a connection, and checks the process id after a fork), so one per pool
does the same work.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
