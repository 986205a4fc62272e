"""Cache-aside with stampede protection, two levels and degradation: the per-app cache engine.

``lookup`` decides, for one key, between an L1 hit, a Redis (L2) hit, serving a stale copy while
one caller recomputes, and a miss. A miss is computed by one caller: threads of this process meet
in a single-flight (:mod:`.flight`); processes meet at a Redis ``SET NX PX`` lock, which its
holder renews while it computes (:mod:`.lease`), and the others poll Redis for its value.
Waiting is bounded by ``lock_wait`` without multiplying computations: after it, one caller per
process computes and the others keep waiting for the first value (see docs/caching.md,
"Stampede protection", for the exact rules). Fresh entries are also recomputed early, with the
XFetch probability, so a hot key is usually refreshed before it ever expires.

Every Redis error is caught here: the value is computed directly and the outage is logged once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from .config import CacheSettings
from .counters import CacheCounters, Clashes, check_key, default_name
from .entry import CachedResponse, Entry, freeze, thaw
from .flight import SingleFlight
from .lease import LockKeeper
from .local import LocalCache
from .outage import REDIS_ERRORS, Outage
from .store import CacheStore

logger = logging.getLogger("flask_resilience.cache")

_POLL_FIRST, _POLL_MAX = 0.005, 0.05

Found = tuple[Any, float | None]
"""A value and its logical expiry (wall clock; None: never expires), for Cache-Control."""


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
        self.clashes = Clashes(logger)
        self.flights = SingleFlight()
        self.locks = LockKeeper(store.extend_locks, settings.lock_timeout)
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
        name = name or default_name(key)
        value = self.fetch(key, compute, seconds, tuple(tags), name)
        if isinstance(value, CachedResponse):  # a cached view stored its response here
            self.clashes.report(key, name, "a cached view's response", "get_or_set")
            return compute()
        return value

    def fetch(
        self, key: str, compute: Callable[[], Any], ttl: int, tags: tuple[str, ...], name: str
    ) -> Any:
        """``get_or_set`` with the TTL resolved; returns a value the caller may mutate."""
        return self.lookup(key, compute, ttl, tags, name)[0]

    def lookup(
        self, key: str, compute: Callable[[], Any], ttl: int, tags: tuple[str, ...], name: str
    ) -> Found:
        """``fetch``, plus the logical expiry of the value returned."""
        version = 0
        if self.l1 is not None:
            entry = self._l1_get(key)
            if entry is not None:
                self.counters.add(name, "hit")
                return thaw(entry.value), entry.expires_at
            version = self.l1.version
        if not self.outage.available():
            return self._degraded(key, compute, ttl, name)
        try:
            data, gens = self.store.read(key, tags)
            entry = self._validated(Entry.from_envelope(data), gens)
            self.outage.recovered()
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return self._degraded(key, compute, ttl, name)
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
    ) -> Found:
        now = self.clock()
        if entry is not None and entry.is_fresh(now):
            early = entry.wants_early_refresh(now, self.settings.xfetch_beta, 1.0 - self.random())
            token = self._try_lock(key) if early else None
            if token is None:
                self.counters.add(name, "hit")
                self._l1_put(key, entry, version, now)
                return entry.value, entry.expires_at
            self.counters.add(name, "miss")
            return self._compute_and_store(key, compute, ttl, tags, gens, token)
        if entry is not None and entry.is_servable_stale(now, self.settings.stale_ttl):
            token = self._try_lock(key)
            if token is None:  # someone computes (its lock is renewed): serve the stale copy
                self.counters.add(name, "stale")
                return entry.value, entry.expires_at
            self.counters.add(name, "miss")
            return self._compute_and_store(key, compute, ttl, tags, gens, token)
        return self._miss(key, compute, ttl, tags, name, gens)

    def _l1_get(self, key: str) -> Entry | None:
        assert self.l1 is not None
        if self.outage.available():
            try:
                if self.l1.sync(self.store.epoch, self.store.events):
                    self.outage.recovered()
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
    ) -> Found:
        def lead() -> Found:
            value, expires = self._lead_miss(key, compute, ttl, tags, name, gens)
            return freeze(value), expires

        def take_over() -> Found:  # the leader is slower than lock_wait: one more, unlocked
            self.counters.add(name, "miss")
            value, expires = self._compute_and_store(key, compute, ttl, tags, gens, None)
            return freeze(value), expires

        found, computed = self.flights.run(key, lead, self.settings.lock_wait, take_over)
        if not computed:
            self.counters.add(name, "hit")
        return thaw(found[0]), found[1]

    def _lead_miss(
        self,
        key: str,
        compute: Callable[[], Any],
        ttl: int,
        tags: tuple[str, ...],
        name: str,
        gens: dict[str, int | None],
    ) -> Found:
        token = self._try_lock(key)
        if token is None:
            self.flights.wait_elsewhere(key)
            entry, token = self._await_other_process(key, tags)
            self.flights.restart(key)
            if entry is not None:
                self.counters.add(name, "hit")
                return entry.value, entry.expires_at
        if token is not None and (entry := self._written_meanwhile(key, tags)) is not None:
            self._unlock(key, token)
            self.counters.add(name, "hit")
            return entry.value, entry.expires_at
        self.counters.add(name, "miss")
        return self._compute_and_store(key, compute, ttl, tags, gens, token)

    def _written_meanwhile(self, key: str, tags: tuple[str, ...]) -> Entry | None:
        """A fresh entry that another process stored and unlocked between our read and our lock.

        Without this second look the lock is free again the moment its holder has written, so a
        caller whose miss was read just before that write takes the lock and computes again.
        """
        try:
            data, gens = self.store.read(key, tags)
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return None
        entry = self._validated(Entry.from_envelope(data), gens)
        return entry if entry is not None and entry.is_fresh(self.clock()) else None

    def _await_other_process(
        self, key: str, tags: tuple[str, ...]
    ) -> tuple[Entry | None, str | None]:
        """Poll Redis for the value another process is computing, up to ``lock_wait``.

        Returns ``(entry, None)`` when it appears, ``(None, token)`` when the lock came free
        (the holder died or failed, so it stopped renewing) and we took it, ``(None, None)``
        when time ran out or Redis failed: then we compute without the lock.
        """
        deadline = time.monotonic() + self.settings.lock_wait
        pause = _POLL_FIRST
        try:
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(pause, left))
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
    ) -> Found:
        """Compute (renewing our lock meanwhile), then write with the generations read before.

        If a tag is invalidated while we compute, the entry we write carries the old
        generation and is rejected on its first read: no stale write-back after invalidation.
        """
        if token is not None:
            self.locks.hold(key, token)
        try:
            known = self._known_generations(tags, gens)
            started = self.clock()
            value = compute()
            delta = max(0.0, self.clock() - started)
            expires = None if ttl == 0 else self.clock() + ttl
            if known is not None:
                self._store(key, value, ttl, expires, delta, known)
            return value, expires
        finally:
            if token is not None:
                self.locks.release(key)
                self._unlock(key, token)

    def _known_generations(
        self, tags: tuple[str, ...], gens: dict[str, int | None]
    ) -> dict[str, int] | None:
        """Generations for every tag (creating missing counters), or None if Redis failed."""
        missing = [tag for tag in tags if gens.get(tag) is None]
        try:
            created = (
                self.store.ensure_generations(missing, self.settings.tag_ttl) if missing else {}
            )
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return None
        return {tag: created.get(tag) or int(gens[tag] or 0) for tag in tags}

    def _store(
        self,
        key: str,
        value: Any,
        ttl: int,
        expires: float | None,
        delta: float,
        gens: dict[str, int],
    ) -> None:
        entry = Entry(value, expires, delta, gens)
        timeout = 0 if ttl == 0 else ttl + self.settings.stale_ttl
        tag_ttls = {tag: self.settings.tag_ttl + timeout for tag in gens}
        try:
            envelope = entry.to_envelope()
            self.store.write(key, envelope, timeout, tag_ttls)
            self.outage.recovered()
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

    def _degraded(self, key: str, compute: Callable[[], Any], ttl: int, name: str) -> Found:
        """Redis is down: compute directly, still one computation per key in this process."""
        self.counters.add(name, "error")

        def run() -> Found:
            return freeze(compute()), None if ttl == 0 else self.clock() + ttl

        found, _ = self.flights.run(key, run, self.settings.lock_wait)
        return thaw(found[0]), found[1]

    # -- writing and invalidating --------------------------------------------------------

    def set(
        self, key: str, value: Any, ttl: int | str | None = None, *, tags: Sequence[str] = ()
    ) -> bool:
        """Store ``value`` directly (write-through after an update); False if Redis is down."""
        check_key(key)
        seconds = self.settings.ttl_for(ttl)
        if not self.outage.available():
            return False
        known = self._known_generations(tuple(tags), {})
        if known is None:
            return False
        expires = None if seconds == 0 else self.clock() + seconds
        self._store(key, value, seconds, expires, 0.0, known)
        self._forget_locally(keys=[key])
        return not self.outage.degraded

    def get(self, key: str, default: Any = None) -> Any:
        """The fresh cached value of ``key`` or ``default``; never computes, never raises."""
        if not self.outage.available():
            return default
        try:
            data, gens = self.store.read(key, ())
            entry = self._validated(Entry.from_envelope(data), gens)
            self.outage.recovered()
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
            bump = lambda: self.store.bump(tags, self.settings.tag_ttl)  # noqa: E731
            ok = self._invalidate({"tags": tags}, bump, tags=tags)
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

    def _forget_locally(self, **what: Any) -> None:
        if self.l1 is not None:
            self.l1.forget(**what)

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
