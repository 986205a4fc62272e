"""Cache-aside with stampede protection, two levels and degradation: the per-app cache engine.

``fetch`` decides, for one key, between an L1 hit, a Redis (L2) hit, serving a stale copy while
one caller recomputes, and a miss. A miss is computed by exactly one caller: threads of this
process meet in a single-flight; processes meet at a Redis ``SET NX PX`` lock, and the losers
poll Redis for the winner's value (bounded by ``lock_timeout``, after which they compute
themselves rather than fail). Fresh entries are also recomputed early, with the XFetch
probability, so a hot key is usually refreshed before it ever expires.

Every Redis error is caught here: the value is computed directly and the outage is logged once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from .config import CacheSettings
from .counters import CacheCounters, check_key, default_name
from .entry import Entry, freeze, thaw
from .flight import MISSING, SingleFlight
from .local import LocalCache
from .outage import REDIS_ERRORS, Outage
from .store import CacheStore

logger = logging.getLogger("flask_resilience.cache")

_POLL_FIRST, _POLL_MAX = 0.005, 0.05


class CacheRuntime:
    """One app's cache: settings, the Flask-Caching object, the store, L1, counters."""

    def __init__(self, settings: CacheSettings, flask_cache: Any, store: CacheStore) -> None:
        self.settings = settings
        self.flask_cache = flask_cache
        self.store = store
        self.clock: Callable[[], float] = time.time
        """Wall clock for expiry (shared across processes); replaceable in tests and benchmarks."""
        self.random: Callable[[], float] = random.random
        self.outage = Outage()
        self.counters = CacheCounters()
        self.flights = SingleFlight()
        self.l1: LocalCache | None = None
        if settings.l1_size:
            self.l1 = LocalCache(settings.l1_size, settings.l1_ttl, settings.l1_sync_interval)

    # -- reading -------------------------------------------------------------------------

    def get_or_set(
        self,
        key: str,
        compute: Callable[[], Any],
        ttl: int | str | None = None,
        *,
        tags: Sequence[str] = (),
        name: str | None = None,
    ) -> Any:
        """The cached value of ``key``, computing and storing it with ``compute`` on a miss."""
        check_key(key)
        seconds = self.settings.ttl_for(ttl)
        return self.fetch(key, compute, seconds, tuple(tags), name or default_name(key))

    def fetch(
        self, key: str, compute: Callable[[], Any], ttl: int, tags: tuple[str, ...], name: str
    ) -> Any:
        """``get_or_set`` with the TTL resolved; returns a value the caller may mutate."""
        version = 0
        if self.l1 is not None:
            entry = self._l1_get(key)
            if entry is not None:
                self.counters.add(name, "hit")
                return thaw(entry.value)
            version = self.l1.version
        if not self.outage.available():
            return self._degraded(key, compute, name)
        try:
            data, gens = self.store.read(key, tags)
            entry = self._validated(Entry.from_envelope(data), gens)
            self.outage.recovered()
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return self._degraded(key, compute, name)
        return self._decide(key, compute, ttl, tags, name, entry, gens, version)

    def _decide(
        self,
        key: str,
        compute: Callable[[], Any],
        ttl: int,
        tags: tuple[str, ...],
        name: str,
        entry: Entry | None,
        gens: dict[str, int | None],
        version: int,
    ) -> Any:
        now = self.clock()
        if entry is not None and entry.is_fresh(now):
            early = entry.wants_early_refresh(now, self.settings.xfetch_beta, 1.0 - self.random())
            token = self._try_lock(key) if early else None
            if token is None:
                self.counters.add(name, "hit")
                self._l1_put(key, entry, version, now)
                return entry.value
            self.counters.add(name, "miss")
            return self._compute_and_store(key, compute, ttl, tags, gens, token)
        if entry is not None and entry.is_servable_stale(now, self.settings.stale_ttl):
            token = self._try_lock(key)
            if token is None:
                self.counters.add(name, "stale")
                return entry.value
            self.counters.add(name, "miss")
            return self._compute_and_store(key, compute, ttl, tags, gens, token)
        return self._miss(key, compute, ttl, tags, name, gens)

    def _l1_get(self, key: str) -> Entry | None:
        assert self.l1 is not None
        if self.outage.available():
            try:
                self.l1.sync(self.store.epoch, self.store.events)
            except REDIS_ERRORS as exc:
                self.outage.failed(exc)
        return self.l1.get(key)

    def _l1_put(self, key: str, entry: Entry, version: int, now: float) -> None:
        if self.l1 is None:
            return
        remaining = None if entry.expires_at is None else entry.expires_at - now
        frozen = Entry(freeze(entry.value), entry.expires_at, entry.delta, entry.gens)
        self.l1.put(key, frozen, version, remaining)

    def _validated(self, entry: Entry | None, gens: dict[str, int | None]) -> Entry | None:
        """The entry when every tag it carries is still at the generation it was written with."""
        if entry is None or not entry.gens:
            return entry
        unknown = [tag for tag in entry.gens if tag not in gens]
        current = {**gens, **self.store.generations(unknown)} if unknown else gens
        for tag, generation in entry.gens.items():
            if current.get(tag) != generation:
                return None
        return entry

    # -- computing -----------------------------------------------------------------------

    def _miss(
        self,
        key: str,
        compute: Callable[[], Any],
        ttl: int,
        tags: tuple[str, ...],
        name: str,
        gens: dict[str, int | None],
    ) -> Any:
        def lead() -> Any:
            return freeze(self._lead_miss(key, compute, ttl, tags, name, gens))

        frozen, leader = self.flights.run(key, lead, self.settings.lock_timeout)
        if frozen is MISSING:  # the leader is slow: compute rather than wait without bound
            self.counters.add(name, "miss")
            return compute()
        if not leader:
            self.counters.add(name, "hit")
        return thaw(frozen)

    def _lead_miss(
        self,
        key: str,
        compute: Callable[[], Any],
        ttl: int,
        tags: tuple[str, ...],
        name: str,
        gens: dict[str, int | None],
    ) -> Any:
        token = self._try_lock(key)
        if token is None:
            entry, token = self._await_other_process(key, tags)
            if entry is not None:
                self.counters.add(name, "hit")
                return entry.value
        self.counters.add(name, "miss")
        return self._compute_and_store(key, compute, ttl, tags, gens, token)

    def _await_other_process(
        self, key: str, tags: tuple[str, ...]
    ) -> tuple[Entry | None, str | None]:
        """Poll Redis for the value another process is computing, up to ``lock_timeout``.

        Returns ``(entry, None)`` when it appears, ``(None, token)`` when the lock came free
        (the holder died or failed) and we took it, ``(None, None)`` when time ran out.
        """
        deadline = time.monotonic() + self.settings.lock_timeout
        pause = _POLL_FIRST
        try:
            while time.monotonic() < deadline:
                time.sleep(pause)
                pause = min(pause * 2, _POLL_MAX)
                data, gens = self.store.read(key, tags)
                entry = self._validated(Entry.from_envelope(data), gens)
                if entry is not None and entry.is_fresh(self.clock()):
                    return entry, None
                token = self._try_lock(key)
                if token is not None:
                    return None, token
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
        return None, None

    def _try_lock(self, key: str) -> str | None:
        try:
            return self.store.try_lock(key, int(self.settings.lock_timeout * 1000))
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return None

    def _compute_and_store(
        self,
        key: str,
        compute: Callable[[], Any],
        ttl: int,
        tags: tuple[str, ...],
        gens: dict[str, int | None],
        token: str | None,
    ) -> Any:
        """Compute, then write with the tag generations read *before* computing.

        If a tag is invalidated while we compute, the entry we write carries the old
        generation and is rejected on its first read: no stale write-back after invalidation.
        """
        try:
            known = self._known_generations(tags, gens)
            started = self.clock()
            value = compute()
            delta = max(0.0, self.clock() - started)
            if known is not None:
                self._store(key, value, ttl, delta, known)
            return value
        finally:
            if token is not None:
                self._unlock(key, token)

    def _known_generations(
        self, tags: tuple[str, ...], gens: dict[str, int | None]
    ) -> dict[str, int] | None:
        """Generations for every tag (creating missing counters), or None if Redis failed."""
        missing = [tag for tag in tags if gens.get(tag) is None]
        try:
            created = self.store.ensure_generations(missing) if missing else {}
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return None
        return {tag: created.get(tag) or int(gens[tag] or 0) for tag in tags}

    def _store(self, key: str, value: Any, ttl: int, delta: float, gens: dict[str, int]) -> None:
        expires = None if ttl == 0 else self.clock() + ttl
        entry = Entry(value, expires, delta, gens)
        timeout = 0 if ttl == 0 else ttl + self.settings.stale_ttl
        try:
            envelope = entry.to_envelope()
            self.store.write(key, envelope, timeout)
        except TypeError as exc:
            raise TypeError(
                f"cache value for {key!r} cannot be stored: {exc}. Cache plain data "
                "(dict, list, str, numbers, bool, None); pickle is never used."
            ) from exc
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)

    def _unlock(self, key: str, token: str) -> None:
        try:
            self.store.unlock(key, token)
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)

    def _degraded(self, key: str, compute: Callable[[], Any], name: str) -> Any:
        """Redis is down: compute directly, still one computation per key in this process."""
        self.counters.add(name, "error")
        frozen, _ = self.flights.run(key, lambda: freeze(compute()), self.settings.lock_timeout)
        return compute() if frozen is MISSING else thaw(frozen)

    # -- writing and invalidating --------------------------------------------------------

    def set(
        self, key: str, value: Any, ttl: int | str | None = None, *, tags: Sequence[str] = ()
    ) -> bool:
        """Store ``value`` directly (write-through after an update); False if Redis is down."""
        check_key(key)
        seconds = self.settings.ttl_for(ttl)
        known = self._known_generations(tuple(tags), {})
        if known is None:
            return False
        self._store(key, value, seconds, 0.0, known)
        self._forget_locally(keys=[key])
        return not self.outage.degraded

    def get(self, key: str, default: Any = None) -> Any:
        """The fresh cached value of ``key`` or ``default``; never computes, never raises."""
        try:
            data, gens = self.store.read(key, ())
            entry = self._validated(Entry.from_envelope(data), gens)
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return default
        if entry is None or not entry.is_fresh(self.clock()):
            return default
        return entry.value

    def delete(self, key: str) -> bool:
        """Remove ``key`` here, in Redis and in every process's L1."""
        return self._invalidate({"keys": [key]}, lambda: self.store.delete(key), keys=[key])

    def invalidate(self, *, tags: Sequence[str] = (), pattern: str | None = None) -> bool:
        """Invalidate entries by tag (O(tags)) and/or key glob pattern (SCAN, never KEYS).

        Returns False when Redis is unreachable: the failure is logged at ERROR, since entries
        then stay valid elsewhere until their TTL.
        """
        ok = True
        if tags:
            tags = list(tags)
            ok = self._invalidate({"tags": tags}, lambda: self.store.bump(tags), tags=tags)
        if pattern is not None:
            check_key(pattern)
            action = lambda: self.store.delete_matching(pattern)  # noqa: E731
            ok = self._invalidate({"pattern": pattern}, action, pattern=pattern) and ok
        return ok

    def clear(self) -> bool:
        """Drop every value under this cache's prefix (tags and the event log stay)."""
        action = lambda: self.store.delete_matching("*")  # noqa: E731
        return self._invalidate({"all": True}, action, everything=True)

    def _invalidate(self, event: dict[str, Any], action: Callable[[], Any], **local: Any) -> bool:
        self._forget_locally(**local)
        try:
            action()
            self.store.publish(event)
            self.outage.recovered()
            return True
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            logger.error(
                "cache invalidation %s failed: %s; entries stay until their TTL", event, exc
            )
            return False

    def _forget_locally(
        self,
        *,
        tags: Sequence[str] = (),
        keys: Sequence[str] = (),
        pattern: str | None = None,
        everything: bool = False,
    ) -> None:
        if self.l1 is None:
            return
        if everything:
            self.l1.clear()
        if tags:
            self.l1.drop_tags(tags)
        if keys:
            self.l1.drop_keys(keys)
        if pattern is not None:
            self.l1.drop_pattern(pattern)

    def stats(self) -> dict[str, Any]:
        """Store statistics plus this process's counters and L1 size."""
        counts = self.counters.snapshot()
        return {
            **self.store.stats(),
            "l1_entries": len(self.l1) if self.l1 is not None else None,
            "degraded": self.outage.degraded,
            "requests": {f"{n}:{r}": v for (n, r), v in sorted(counts.items())},
        }

    def close(self) -> None:
        """Close the connection pool Flask-Caching opened for the backend."""
        for attr in ("_write_client", "_read_client"):
            client = getattr(self.store.backend, attr, None)
            close = getattr(client, "close", None)
            if callable(close):
                close()
