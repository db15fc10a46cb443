"""The test suite's Redis cache: parallel test processes share one Redis database."""

from okrapp.redis_cache import RedisCache


class PrefixedRedisCache(RedisCache):
    """``clear()`` deletes this process's keys (its ``KEY_PREFIX``) only. Django's own
    flushes the whole database, which emptied the cache of every other test process
    between two requests of theirs."""

    def clear(self):
        client = self._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        return True
