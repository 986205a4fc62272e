"""A breaker store shared by a whole fleet through Redis, and still near free on the hot path.

Every process keeps a cached copy of the shared state, so most calls never touch Redis:

- CLOSED: ``acquire`` is one clock read and one comparison while the cache is fresh (at most
  ``min(state_ttl, flush_interval)`` old). A success is appended to a local batch. The batch is
  flushed by one Lua call when it holds ``flush_batch`` outcomes, when the cache goes stale (the
  next call then flushes and re-reads the state in the same round trip), or at once when a call
  fails: failures are the signal that opens a breaker, so they are never held back.
- OPEN: calls are rejected locally until the cached open-until passes, with no round trip.
- HALF_OPEN: probes are reserved in Redis, so the fleet runs ``half_open_max_calls`` probes in
  total; a process that was refused a probe rejects locally for ``state_ttl``.

The window is judged in Lua, atomically over the outcomes of every process (see
``_redis_scripts``). When Redis cannot be reached the store falls back to a process-local
``MemoryBreakerStore``, warns once per outage, and retries Redis every ``retry_after`` seconds:
the user's call never fails because Redis is down. See ``docs/resilience-shared-state.md``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .._foundation.clock import Clock
from .._foundation.redis_factory import connect_redis
from ._redis_scripts import BREAKER_LUA, Reply, config_args
from ._windows import FAILURE, IGNORED, SUCCESS
from .memory_store import MemoryBreakerStore
from .store import (
    ADMITTED,
    CLOSED,
    HALF_OPEN,
    OPEN,
    PROBE,
    BreakerConfig,
    BreakerEvent,
    BreakerSnapshot,
    BreakerState,
    Permit,
    StoreFactory,
)

log = logging.getLogger(__name__)

_NEVER = -math.inf
_OK = 48
"""``ord("0")``: outcomes travel to Lua as the characters ``'0'``-``'3'`` (the flag bits + 48)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisStoreOptions:
    """How a ``RedisBreakerStore`` trades freshness for round trips; validated once.

    ``time_source="redis"`` (the default) times open periods and time windows with Redis
    ``TIME``, which every host agrees on. ``"clock"`` sends the breaker's ``Clock`` reading
    instead: only correct when every process shares one clock origin (a ``ManualClock`` in
    tests, or a wall clock on hosts kept in sync).
    """

    prefix: str = "resilience:breaker"
    flush_interval: float = 0.1
    flush_batch: int = 100
    state_ttl: float = 0.05
    retry_after: float = 1.0
    time_source: Literal["redis", "clock"] = "redis"

    def __post_init__(self) -> None:
        if not self.prefix:
            raise ValueError("prefix must not be empty")
        for field in ("flush_interval", "state_ttl", "retry_after"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be > 0 seconds")
        if self.flush_batch < 1:
            raise ValueError("flush_batch must be >= 1")
        if self.time_source not in ("redis", "clock"):
            raise ValueError(f"time_source must be 'redis' or 'clock', got {self.time_source!r}")


class RedisBreakerStore:
    """``BreakerStore`` whose state and window live in Redis, shared by every process.

    ``degraded`` is True while Redis is unreachable and a local store stands in;
    ``fallback_count`` counts those outages (export both as metrics).
    """

    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        clock: Clock,
        *,
        client: redis.Redis,
        options: RedisStoreOptions | None = None,
    ) -> None:
        self.name, self.config, self._clock = name, config, clock
        self.options = options = options if options is not None else RedisStoreOptions()
        self._script = client.register_script(BREAKER_LUA)
        tag = f"{options.prefix}:{{{name}}}"
        self._keys = [f"{tag}:state", f"{tag}:window"]
        self._config_args = config_args(config)
        self._now = clock.monotonic
        self._client_time = options.time_source == "clock"
        self._refresh = min(options.state_ttl, options.flush_interval)
        self._batch = options.flush_batch
        self._count_window = int(config.window_size) if config.window == "count" else -1
        self._lock = threading.Lock()  # one round trip at a time; never held by the user's call
        self._pending: deque[int] = deque()  # appends and poplefts are atomic: no lock to count
        self._state, self._gen = CLOSED, -1
        self._due = _NEVER  # the fast path is valid until then; the first call syncs
        self._counting = True
        self._clean = False  # a success batch would change nothing in the shared window
        self._open_until = 0.0
        self._degraded = False
        self._retry_at = 0.0
        self._local = MemoryBreakerStore(name, config, clock)
        self.fallback_count = 0

    @property
    def state(self) -> BreakerState:
        """The cached shared state (the local one while degraded); no round trip."""
        return self._local.state if self._degraded else self._state

    @property
    def degraded(self) -> bool:
        """Whether Redis is unreachable and a process-local store stands in."""
        return self._degraded

    @property
    def keys(self) -> tuple[str, str]:
        """The Redis keys of this breaker: its state hash and its window."""
        return self._keys[0], self._keys[1]

    def acquire(self) -> Permit:
        """CLOSED with a fresh cache: one clock read, no lock, no round trip."""
        if self._now() < self._due:
            return ADMITTED
        return self._acquire_slow()

    def reserve_probe(self) -> Permit:
        """Ask Redis for a probe slot now, whatever the cache says."""
        if self._degraded:
            return self._local.reserve_probe()
        with self._lock:
            return self._acquire_shared()

    def record(self, outcome: int, probe: bool) -> BreakerEvent | None:
        """A success joins the local batch; failures and probe results go to Redis at once."""
        if outcome == SUCCESS and not probe and self._counting:
            if self._clean:
                return None
            pending = self._pending
            pending.append(_OK)
            if len(pending) < self._batch:
                return None
            return self._flush(blocking=False)
        return self._record_slow(outcome, probe)

    def transition(self, state: BreakerState, reason: str) -> BreakerEvent | None:
        """A manual move, made in Redis for the whole fleet (locally while degraded)."""
        if self._degraded:
            return self._local.transition(state, reason)
        with self._lock:
            reply = self._exchange("transition", state.value, reason)
            if reply is None:
                return self._local.transition(state, reason)
            return self._apply(reply)

    def snapshot(self) -> BreakerSnapshot:
        """The shared state and window as Redis holds them (without this process's batch)."""
        if self._degraded:
            return self._local.snapshot()
        with self._lock:
            reply = self._exchange("snapshot")
        if reply is None:
            return self._local.snapshot()
        return BreakerSnapshot(
            self.name,
            reply.state,
            reply.calls,
            reply.failures,
            reply.slow,
            reply.consecutive,
            reply.remaining,
        )

    def flush(self) -> BreakerEvent | None:
        """Send the locally counted outcomes now (tests, shutdown hooks); returns a transition."""
        if self._degraded:
            return None
        return self._flush(blocking=True)

    def _acquire_slow(self) -> Permit:
        """Off the fast path: a stale cache, an open or half-open breaker, or an outage."""
        now = self._now()
        degraded = self._degraded
        if degraded and now < self._retry_at:
            return self._local.acquire()
        state = self._state
        if not degraded and state is not CLOSED and now < self._open_until:
            return Permit(False, remaining=self._open_until - now if state is OPEN else 0.0)
        # A closed breaker's refresh, or a retry of Redis, does not queue behind another
        # thread's round trip; a probe reservation must wait for its answer.
        lock = self._lock
        if not lock.acquire(blocking=state is not CLOSED and not degraded):
            return self._local.acquire() if degraded else ADMITTED
        try:
            return self._acquire_shared()
        finally:
            lock.release()

    def _acquire_shared(self) -> Permit:
        """Flush, refresh and maybe take a probe in one round trip (the caller holds ``_lock``)."""
        reply = self._exchange("acquire", self._drain())
        if reply is None:
            return self._local.acquire()
        event = self._apply(reply)
        if reply.state is HALF_OPEN and not reply.probe:
            # Every slot is taken: reject locally for a while instead of asking at each call.
            self._open_until = self._now() + self.options.state_ttl
        return self._permit(reply, event)

    def _record_slow(self, outcome: int, probe: bool) -> BreakerEvent | None:
        if self._degraded:
            return self._local.record(outcome, probe)
        if probe:
            with self._lock:
                reply = self._exchange("probe", str(outcome))
                return None if reply is None else self._apply(reply)
        if outcome & IGNORED or not self._counting:
            return None  # not counted, or admitted before the last transition: stale
        pending = self._pending
        pending.append(_OK + (outcome & 3))
        if outcome & FAILURE:
            return self._flush(blocking=True)  # failures reach the fleet at once
        if len(pending) >= self._batch:
            return self._flush(blocking=False)
        return None

    def _flush(self, *, blocking: bool) -> BreakerEvent | None:
        """Push the batch; without ``blocking``, leave it to a thread already talking to Redis."""
        if not self._lock.acquire(blocking=blocking):
            return None
        try:
            reply = self._exchange("flush", self._drain())
            return None if reply is None else self._apply(reply)
        finally:
            self._lock.release()

    def _drain(self) -> str:
        """Take the outcomes counted so far, as the script's character string."""
        pending = self._pending
        return bytes([pending.popleft() for _ in range(len(pending))]).decode("ascii")

    def _exchange(self, op: str, payload: str = "", reason: str = "") -> Reply | None:
        """One atomic script call (the caller holds ``_lock``); None when Redis failed."""
        now = self._now()
        gen = str(self._gen) if self._gen >= 0 else ""  # "" before the first reply: any
        args = [op, repr(now) if self._client_time else "", gen, payload, reason]
        try:
            raw = self._script(keys=self._keys, args=[*args, *self._config_args])
            reply = Reply.parse(raw)
        except redis.RedisError as exc:
            self._degrade(exc, now, payload if op in ("acquire", "flush") else "")
            return None
        if self._degraded:
            self._degraded = False
            log.info("breaker %r: Redis is reachable again, back to shared state", self.name)
        return reply

    def _apply(self, reply: Reply) -> BreakerEvent | None:
        """Refresh the cache from ``reply``; the event when the state differs from the cache."""
        now = self._now()
        previous, state = self._state, reply.state
        self._state, self._gen = state, reply.gen
        self._counting = state is CLOSED
        self._clean = (
            self._counting
            and self._count_window == reply.calls
            and not (reply.failures or reply.slow or reply.consecutive)
        )
        self._due = now + self._refresh if state is CLOSED else _NEVER
        if state is OPEN:
            self._open_until = now + reply.remaining
        elif state is HALF_OPEN:
            self._open_until = now  # ask Redis for a probe slot at the next call
        if state is previous:
            return None
        reason = reply.reason if reply.moved else f"{reply.reason} (seen in Redis)"
        return BreakerEvent(self.name, previous, state, now, reason)

    @staticmethod
    def _permit(reply: Reply, event: BreakerEvent | None) -> Permit:
        if reply.state is CLOSED:
            return ADMITTED if event is None else Permit(True, event=event)
        if reply.state is HALF_OPEN and reply.probe:
            return PROBE if event is None else Permit(True, probe=True, event=event)
        return Permit(False, remaining=reply.remaining, event=event)

    def _degrade(self, exc: redis.RedisError, now: float, outcomes: str) -> None:
        """Stand a fresh local store in for Redis; warn once per outage, not once per call."""
        if not self._degraded:
            self._degraded = True
            self.fallback_count += 1
            self._local = MemoryBreakerStore(self.name, self.config, self._clock)
            log.warning(
                "breaker %r: Redis unreachable (%s: %s); using process-local state, "
                "retrying Redis every %.3g s",
                self.name,
                type(exc).__name__,
                exc,
                self.options.retry_after,
            )
        self._retry_at = now + self.options.retry_after
        self._due, self._counting, self._clean = _NEVER, False, False
        for char in outcomes.encode("ascii"):
            self._local.record(char - _OK, False)  # the batch still counts, locally

    def __repr__(self) -> str:
        mode = "degraded" if self._degraded else "shared"
        return f"RedisBreakerStore(name={self.name!r}, state={self.state.value!r}, {mode})"


STORE_TIMEOUT_SECONDS = 0.2
"""Socket timeouts of a client the factory builds from a URL: the longest a call waits on Redis."""


def store_client(url: str, *, timeout: float = STORE_TIMEOUT_SECONDS) -> Any:
    """A client for the store: short timeouts, and one immediate retry instead of redis-py's
    default ten with backoff (seconds of stall on the call path when Redis is down).

    The one retry absorbs a pooled connection the server closed; a refused or timed-out
    connection then fails fast and the store falls back to local state.
    """
    client = connect_redis(url, timeout=timeout)
    client.set_retry(Retry(NoBackoff(), 1))
    return client


def redis_store_factory(
    client: redis.Redis | str,
    *,
    prefix: str = "resilience:breaker",
    flush_interval: float = 0.1,
    flush_batch: int = 100,
    state_ttl: float = 0.05,
    retry_after: float = 1.0,
    time_source: Literal["redis", "clock"] = "redis",
) -> StoreFactory:
    """A ``StoreFactory`` putting every breaker it builds in Redis through ``client``.

    ``client`` is a URL (preferred: the factory builds a client tuned by ``store_client``) or
    a client of yours. Give yours short socket timeouts and ``retry=Retry(NoBackoff(), 1)``:
    redis-py's default retries ten times with backoff, which would stall a call for seconds
    each time the store checks whether Redis is back.

    >>> factory = redis_store_factory("redis://127.0.0.1:6379/0", flush_batch=50)
    >>> from flask_resilience.resilient import CircuitBreaker
    >>> breaker = CircuitBreaker(name="payments", store_factory=factory)
    """
    shared: redis.Redis = store_client(client) if isinstance(client, str) else client
    options = RedisStoreOptions(
        prefix=prefix,
        flush_interval=flush_interval,
        flush_batch=flush_batch,
        state_ttl=state_ttl,
        retry_after=retry_after,
        time_source=time_source,
    )

    def factory(name: str, config: BreakerConfig, clock: Clock) -> RedisBreakerStore:
        return RedisBreakerStore(name, config, clock, client=shared, options=options)

    return factory
