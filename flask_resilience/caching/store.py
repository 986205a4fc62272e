"""The Redis side of the cache: values through Flask-Caching's backend, plus coordination keys.

Values are read and written through the backend Flask-Caching built (its client, key prefix and
our serializer). Next to them, under the same prefix, live the keys Flask-Caching has no notion of::

    <prefix>~tag:<tag>         generation counter of a tag (INCR invalidates every entry tagged)
    <prefix>~lock:<key>        stampede lock, SET NX PX with a random token, renewed by its holder
    <prefix>~{meta}:epoch      counts invalidations; polled by every process's L1
    <prefix>~{meta}:events     the last EVENT_LOG invalidations, so an L1 drops only what changed

When the backend is a Redis cache, a read fetches the value and its tags' generations in one
pipelined round trip. Other backends (``SimpleCache`` in embedded mode) keep values in-process
and coordinate through the app's Redis client (fakeredis in embedded mode).

Tag counters expire (``tag_ttl``) and every write refreshes those it carries, so unused tags do
not pile up. A counter that expires, is evicted or is flushed anyway comes back at a random value
(never 1), so entries written before can only turn into misses, never into hits.
"""

from __future__ import annotations

import fnmatch
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cachelib.redis_base import BaseRedisCache
from redis.cluster import RedisCluster
from redis.exceptions import ResponseError

EVENT_LOG = 256
SCAN_BATCH = 500
INTERNAL = "~"


def glob_escape(text: str) -> str:
    """Escape Redis glob characters so a key prefix matches only itself in SCAN MATCH."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _int(raw: Any) -> int | None:
    """An integer counter, or None when absent or not an integer (a foreign value: a miss)."""
    try:
        return None if raw is None else int(raw)
    except (TypeError, ValueError):
        return None


def _same(raw: Any, token: str) -> bool:
    """Whether a lock's value is ``token`` (bytes or str, whatever the client decodes to)."""
    return raw is not None and (raw.decode() if isinstance(raw, bytes) else raw) == token


def _random_generation() -> int:
    return secrets.randbelow(2**40) + 2


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

    def ensure_generations(self, tags: Sequence[str], tag_ttl: int) -> dict[str, int]:
        """Create missing generation counters at a random start, then read them all.

        A random start (not 0) means an evicted or flushed counter comes back at a different
        value, so entries written before the loss can never look valid again. A counter
        holding something that is not an integer is replaced the same way.
        """
        pipe = self.client.pipeline(transaction=False)
        for tag in tags:
            pipe.set(self.tag_key(tag), _random_generation(), nx=True, ex=tag_ttl)
            pipe.get(self.tag_key(tag))
        results = pipe.execute()
        gens = {tag: _int(results[2 * i + 1]) for i, tag in enumerate(tags)}
        foreign = [tag for tag, gen in gens.items() if gen is None]
        if foreign:
            pipe = self.client.pipeline(transaction=False)
            for tag in foreign:
                gens[tag] = _random_generation()
                pipe.set(self.tag_key(tag), gens[tag], ex=tag_ttl)
            pipe.execute()
        return {tag: int(gen or 0) for tag, gen in gens.items()}

    def write(
        self, key: str, envelope: dict[str, Any], timeout: int, tag_ttls: Mapping[str, int]
    ) -> None:
        """Store the envelope and refresh the lifetime of its tags' counters.

        On Redis both go in one pipelined round trip, encoded by our serializer as Flask-Caching
        would (JSON, never pickle); other backends store through Flask-Caching's ``set``.
        """
        if not self.pipelined:
            self.backend.set(key, envelope, timeout=timeout)
            if tag_ttls:
                self._expire_tags(self.client.pipeline(transaction=False), tag_ttls).execute()
            return
        body = self.backend.serializer.dumps(envelope)
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.prefix + key, body, ex=timeout or None)
        self._expire_tags(pipe, tag_ttls).execute()

    def _expire_tags(self, pipe: Any, tag_ttls: Mapping[str, int]) -> Any:
        for tag, seconds in tag_ttls.items():
            pipe.expire(self.tag_key(tag), seconds)
        return pipe

    def delete(self, key: str) -> None:
        self.backend.delete(key)

    def bump(self, tags: Iterable[str], tag_ttl: int) -> None:
        """Invalidate every entry carrying one of ``tags``: O(tags), whatever the entry count.

        A missing counter is created at a random value first (a bare INCR would restart it at
        1, a value old entries may carry); one holding a foreign value is replaced.
        """
        names = [self.tag_key(tag) for tag in tags]
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.set(name, _random_generation(), nx=True, ex=tag_ttl)
            pipe.incr(name)
        results = pipe.execute(raise_on_error=False)
        for error in results:
            if isinstance(error, Exception) and not isinstance(error, ResponseError):
                raise error
        foreign = [
            name for i, name in enumerate(names) if isinstance(results[2 * i + 1], Exception)
        ]
        if foreign:
            pipe = self.client.pipeline(transaction=False)
            for name in foreign:
                pipe.set(name, _random_generation(), ex=tag_ttl)
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
        return _int(self.client.get(self._epoch_key)) or 0

    def events(self) -> list[dict[str, Any]]:
        """The logged invalidations, newest first (an undecodable one is left out: a gap)."""
        events = []
        for raw in self.client.lrange(self._events_key, 0, -1):
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def lock_key(self, key: str) -> str:
        return f"{self.prefix}~lock:{key}"

    def try_lock(self, key: str, ttl_ms: int) -> str | None:
        """A token when this caller now holds the stampede lock of ``key``, else None."""
        token = secrets.token_hex(8)
        if self.client.set(self.lock_key(key), token, nx=True, px=max(1, ttl_ms)):
            return token
        return None

    def extend_locks(self, held: Mapping[str, str], ttl_ms: int) -> set[str]:
        """Give each lock still holding our token a fresh ``ttl_ms``; the keys extended.

        Compare, then PEXPIRE, two pipelined round trips for all locks (no Lua, so fakeredis
        and Cluster work). The lock could change hands in between only if it had already
        lapsed; we would then lengthen the new holder's lease once, which delays nobody's
        value: the new holder unlocks when it is done.
        """
        keys = list(held)
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(self.lock_key(key))
        current = pipe.execute()
        ours = [k for k, raw in zip(keys, current, strict=True) if _same(raw, held[k])]
        if ours:
            pipe = self.client.pipeline(transaction=False)
            for key in ours:
                pipe.pexpire(self.lock_key(key), ttl_ms)
            pipe.execute()
        return set(ours)

    def unlock(self, key: str, token: str) -> None:
        """Release only our own lock (compare, then delete; no Lua so fakeredis and Cluster work).

        Between the GET and the DEL the lock could expire and be taken by another caller; the
        window is microseconds and the cost of losing that race is one extra computation.
        """
        name = self.lock_key(key)
        if _same(self.client.get(name), token):
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
