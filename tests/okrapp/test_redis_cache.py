"""okrapp's Redis cache backend: one redis.Redis per connection pool, not one per call."""

from __future__ import annotations

import redis

from okrapp.redis_cache import RedisCache


def test_every_call_on_a_pool_gets_the_same_client():
    backend = RedisCache("redis://127.0.0.1:6379/0", {})
    client = backend._cache.get_client(write=True)
    assert isinstance(client, redis.Redis)
    assert backend._cache.get_client("any-key", write=True) is client
    # One server: reads use the writers' pool, hence the same client.
    assert backend._cache.get_client("any-key") is client


def test_each_pool_has_its_own_client():
    backend = RedisCache("redis://127.0.0.1:6379/0,redis://127.0.0.1:6379/1", {})
    writer = backend._cache.get_client(write=True)
    reader = backend._cache.get_client()  # the second server: a pool of its own
    assert reader is not writer
    assert reader.connection_pool is not writer.connection_pool
    assert backend._cache.get_client() is reader
