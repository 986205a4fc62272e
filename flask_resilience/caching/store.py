"""The Redis side of the cache: values through Flask-Caching's backend, plus coordination keys.

Values are read and written through the backend Flask-Caching built (its client, key prefix and
our serializer). Next to them, under the same prefix, live the keys Flask-Caching has no notion of::

    <prefix>~tag:<tag>         generation counter of a tag (INCR invalidates every entry tagged)
    <prefix>~lock:<key>        stampede lock, SET NX PX with a random token
    <prefix>~{meta}:epoch      counts invalidations; polled by every process's L1
    <prefix>~{meta}:events     the last EVENT_LOG invalidations, so an L1 drops only what changed

When the backend is a Redis cache, a read fetches the value and its tags' generations in one
pipelined round trip. Other backends (``SimpleCache`` in embedded mode) keep values in-process
and coordinate through the app's Redis client (fakeredis in embedded mode).
"""

from __future__ import annotations

import fnmatch
import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from cachelib.redis_base import BaseRedisCache
from redis.cluster import RedisCluster

EVENT_LOG = 256
SCAN_BATCH = 500
INTERNAL = "~"


def glob_escape(text: str) -> str:
    """Escape Redis glob characters so a key prefix matches only itself in SCAN MATCH."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _int(raw: Any) -> int | None:
    return None if raw is None else int(raw)


class CacheStore:
    """One app's L2: ``backend`` holds values, ``client`` holds tags, locks and the event log."""

    def __init__(self, backend: Any, client: Any, prefix: str) -> None:
        self.backend = backend
        self.pipelined = isinstance(backend, BaseRedisCache)
        self.client = backend._write_client if self.pipelined else client
        self.prefix = prefix
        self._cluster = isinstance(self.client, RedisCluster)
        self._epoch_key = f"{prefix}~{{meta}}:epoch"
        self._events_key = f"{prefix}~{{meta}}:events"

    def tag_key(self, tag: str) -> str:
        return f"{self.prefix}~tag:{tag}"

    def read(self, key: str, tags: Sequence[str]) -> tuple[Any, dict[str, int | None]]:
        """The decoded envelope under ``key`` (or None) and the current generation of ``tags``."""
        if self.pipelined:
            names = [self.prefix + key, *(self.tag_key(tag) for tag in tags)]
            if self._cluster:  # keys in different slots: one pipelined GET per key
                pipe = self.client.pipeline(transaction=False)
                for name in names:
                    pipe.get(name)
                raw, *gens = pipe.execute()
            else:  # one MGET is cheaper than a pipeline in redis-py (~100 µs less here)
                raw, *gens = self.client.mget(names) if tags else [self.client.get(names[0])]
            return self.backend.serializer.loads(raw), {
                tag: _int(gen) for tag, gen in zip(tags, gens, strict=True)
            }
        return self.backend.get(key), self.generations(tags) if tags else {}

    def generations(self, tags: Sequence[str]) -> dict[str, int | None]:
        pipe = self.client.pipeline(transaction=False)
        for tag in tags:
            pipe.get(self.tag_key(tag))
        return {tag: _int(gen) for tag, gen in zip(tags, pipe.execute(), strict=True)}

    def ensure_generations(self, tags: Sequence[str]) -> dict[str, int]:
        """Create missing generation counters at a random start, then read them all.

        A random start (not 0) means an evicted or flushed counter comes back at a different
        value, so entries written before the loss can never look valid again.
        """
        pipe = self.client.pipeline(transaction=False)
        for tag in tags:
            pipe.set(self.tag_key(tag), secrets.randbelow(2**40) + 1, nx=True)
            pipe.get(self.tag_key(tag))
        results = pipe.execute()
        return {tag: int(results[2 * i + 1]) for i, tag in enumerate(tags)}

    def write(self, key: str, envelope: dict[str, Any], timeout: int) -> None:
        """Store through Flask-Caching's backend (its serializer is ours: JSON, never pickle)."""
        self.backend.set(key, envelope, timeout=timeout)

    def delete(self, key: str) -> None:
        self.backend.delete(key)

    def bump(self, tags: Iterable[str]) -> None:
        """Invalidate every entry carrying one of ``tags``: O(tags), whatever the entry count."""
        pipe = self.client.pipeline(transaction=False)
        for tag in tags:
            pipe.incr(self.tag_key(tag))
        pipe.execute()

    def publish(self, event: dict[str, Any]) -> int:
        """Append an invalidation to the event log that other processes' L1 caches poll.

        The epoch is bumped first: a reader that sees the new epoch before the event is in the
        log finds a gap and clears its whole L1, which is safe.
        """
        epoch = int(self.client.incr(self._epoch_key))
        pipe = self.client.pipeline(transaction=False)
        pipe.lpush(self._events_key, json.dumps({**event, "e": epoch}))
        pipe.ltrim(self._events_key, 0, EVENT_LOG - 1)
        pipe.execute()
        return epoch

    def epoch(self) -> int:
        return int(self.client.get(self._epoch_key) or 0)

    def events(self) -> list[dict[str, Any]]:
        """The logged invalidations, newest first."""
        return [json.loads(raw) for raw in self.client.lrange(self._events_key, 0, -1)]

    def try_lock(self, key: str, ttl_ms: int) -> str | None:
        """A token when this caller now holds the stampede lock of ``key``, else None."""
        token = secrets.token_hex(8)
        if self.client.set(f"{self.prefix}~lock:{key}", token, nx=True, px=max(1, ttl_ms)):
            return token
        return None

    def unlock(self, key: str, token: str) -> None:
        """Release only our own lock (compare, then delete; no Lua so fakeredis and Cluster work).

        Between the GET and the DEL the lock could expire and be taken by another caller; the
        window is microseconds and the cost of losing that race is one extra computation.
        """
        name = f"{self.prefix}~lock:{key}"
        current = self.client.get(name)
        if current is not None and current.decode() == token:
            self.client.delete(name)

    def delete_matching(self, pattern: str) -> int:
        """Delete the values whose key matches the glob ``pattern``; SCAN, never KEYS."""
        if not self.pipelined:
            return self._delete_matching_local(pattern)
        internal = self.prefix + INTERNAL
        deleted, batch = 0, []
        match = glob_escape(self.prefix) + pattern
        for raw in self.client.scan_iter(match=match, count=SCAN_BATCH):
            name = raw.decode() if isinstance(raw, bytes) else raw
            if not name.startswith(internal):
                batch.append(name)
            if len(batch) >= SCAN_BATCH:
                deleted += self._unlink(batch)
                batch = []
        return deleted + self._unlink(batch)

    def _unlink(self, names: list[str]) -> int:
        if not names:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for name in names:  # one key per command: valid on Redis Cluster too
            pipe.unlink(name)
        return sum(int(n) for n in pipe.execute())

    def _delete_matching_local(self, pattern: str) -> int:
        table = getattr(self.backend, "_cache", None)
        if not isinstance(table, dict):
            raise NotImplementedError(
                f"pattern invalidation needs a Redis or SimpleCache backend, "
                f"not {type(self.backend).__name__}; use tags"
            )
        names = [name for name in list(table) if fnmatch.fnmatchcase(name, pattern)]
        for name in names:
            self.backend.delete(name)
        return len(names)

    def stats(self) -> dict[str, Any]:
        """Key and tag counts (SCAN), the invalidation epoch and the newest logged events."""
        if self.pipelined:
            keys = tags = 0
            tag_prefix = self.prefix + INTERNAL + "tag:"
            for raw in self.client.scan_iter(match=glob_escape(self.prefix) + "*", count=1000):
                name = raw.decode() if isinstance(raw, bytes) else raw
                tags += name.startswith(tag_prefix)
                keys += not name.startswith(self.prefix + INTERNAL)
        else:
            keys, tags = len(getattr(self.backend, "_cache", {})), -1
        return {
            "backend": type(self.backend).__name__,
            "prefix": self.prefix,
            "keys": keys,
            "tags": tags,
            "epoch": self.epoch(),
            "recent_invalidations": self.events()[:10],
        }
