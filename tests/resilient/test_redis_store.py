"""Redis-backed breaker store on a real Redis: sharing, batching, probes, parity with memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.connection import Connection

from flask_resilience._foundation.clock import SYSTEM_CLOCK, Clock, ManualClock
from flask_resilience.errors import CircuitOpenError
from flask_resilience.resilient import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    MemoryBreakerStore,
    PolicyRegistry,
    resilient,
)
from flask_resilience.resilient._windows import FAILURE, IGNORED, SLOW, SUCCESS
from flask_resilience.resilient.redis_store import (
    RedisBreakerStore,
    RedisStoreOptions,
    redis_store_factory,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
BASE: dict[str, Any] = {"window_size": 10, "minimum_calls": 4, "reset_timeout": 5.0}


class CountingConnection(Connection):
    """A real redis-py connection that counts the commands it sends (not a mock of Redis)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def rclient(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    yield client
    client.close()


def store(
    client: redis.Redis, clock: Clock, name: str = "db", **settings: Any
) -> RedisBreakerStore:
    options = {key: settings.pop(key) for key in list(settings) if key in _OPTION_NAMES}
    factory = redis_store_factory(client, time_source="clock", **options)
    result = factory(name, BreakerConfig(**BASE | settings), clock)
    assert isinstance(result, RedisBreakerStore)
    return result


_OPTION_NAMES = {"prefix", "flush_interval", "flush_batch", "state_ttl", "retry_after"}


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            breaker.call(boom)


def boom() -> None:
    raise ConnectionError("down")


def test_two_stores_share_one_open_breaker(rclient: redis.Redis, clock: ManualClock) -> None:
    """Failures counted by one store open the breaker for another store of the same name."""
    a, b = store(rclient, clock), store(rclient, clock)
    assert b.acquire().admitted
    for outcome in (FAILURE, FAILURE, SUCCESS):
        a.record(outcome, False)
    event = a.record(FAILURE, False)
    assert event is not None and event.state is OPEN
    assert event.reason == "failure rate 75% >= 50% over 4 calls"
    clock.advance(0.05)  # b's cached CLOSED state goes stale
    permit = b.acquire()
    assert not permit.admitted and permit.remaining == pytest.approx(4.95)
    assert permit.event is not None and permit.event.reason.endswith("(seen in Redis)")


def test_counts_from_two_stores_add_up_in_one_window(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """Consecutive failures from different processes add up to one fleet-wide threshold."""
    a, b = store(rclient, clock, failure_threshold=3), store(rclient, clock, failure_threshold=3)
    a.record(FAILURE, False)
    b.record(FAILURE, False)
    event = a.record(FAILURE, False)
    assert event is not None and event.reason == "3 consecutive failures"
    assert b.snapshot().state is OPEN and b.snapshot().failures == 3


def test_open_breaker_rejects_without_round_trips(redis_url: str, clock: ManualClock) -> None:
    """Until its cached open-until passes, an open breaker rejects with zero Redis commands."""
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    try:
        a = store(client, clock, failure_threshold=1)
        a.record(FAILURE, False)
        before = CountingConnection.sent
        for _ in range(500):
            clock.advance(0.009)
            assert not a.acquire().admitted
        assert CountingConnection.sent == before
        clock.advance(0.6)
        assert a.acquire().probe  # open time over: one round trip reserves the probe
        assert CountingConnection.sent == before + 1
    finally:
        client.close()


def test_closed_success_path_sends_no_commands(redis_url: str) -> None:
    """1000 successes with flushing pushed far out send no command to Redis at all."""
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    try:
        factory = redis_store_factory(
            client, flush_interval=3600, state_ttl=3600, flush_batch=10**6
        )
        breaker = CircuitBreaker(name="hot", store_factory=factory, clock=SYSTEM_CLOCK)
        breaker.call(int)  # the first call syncs the cache
        sent = CountingConnection.sent
        for _ in range(1000):
            breaker.call(int)
        assert CountingConnection.sent == sent
        assert breaker.snapshot().calls == 0  # nothing reached Redis yet
        assert breaker.store.flush() is None  # type: ignore[attr-defined]
        assert breaker.snapshot().calls == 100  # one call carried the batch: a full window
        assert CountingConnection.sent == sent + 3
    finally:
        client.close()


def test_batch_is_flushed_after_flush_batch_outcomes(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """Successes wait locally until flush_batch of them are counted, then go in one call."""
    a = store(rclient, clock, flush_batch=5)
    a.acquire()
    for _ in range(4):
        a.record(SUCCESS, False)
    assert a.snapshot().calls == 0
    a.record(SUCCESS, False)
    assert a.snapshot().calls == 5


def test_batch_is_flushed_when_the_interval_passes(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """The first call after flush_interval flushes the batch and refreshes the state."""
    a = store(rclient, clock, flush_interval=0.25, state_ttl=0.5)
    a.acquire()
    for _ in range(3):
        a.record(SUCCESS, False)
    clock.advance(0.125)
    a.acquire()
    assert a.snapshot().calls == 0
    clock.advance(0.125)
    a.acquire()
    assert a.snapshot().calls == 3


def test_failure_is_flushed_at_once_with_the_batch(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """A failure is sent immediately, together with the successes counted before it."""
    a = store(rclient, clock)
    a.acquire()
    a.record(SUCCESS, False)
    a.record(SLOW, False)
    assert a.snapshot().calls == 0
    a.record(FAILURE, False)
    snap = a.snapshot()
    assert (snap.calls, snap.failures, snap.consecutive_failures) == (3, 1, 1)


def test_full_clean_window_skips_success_batches(rclient: redis.Redis, clock: ManualClock) -> None:
    """Once the shared count window is full of successes, success batches are not sent."""
    a = store(rclient, clock, flush_batch=10)
    for _ in range(10):
        a.record(SUCCESS, False)
    assert a.snapshot().calls == 10
    for _ in range(25):
        a.record(SUCCESS, False)
    assert a.flush() is None and a.snapshot().calls == 10


def open_fleet(client: redis.Redis, clock: ManualClock, n: int, **settings: Any) -> list[Any]:
    stores = [store(client, clock, failure_threshold=1, **settings) for _ in range(n)]
    stores[0].record(FAILURE, False)
    for each in stores[1:]:
        each.acquire()  # every store caches OPEN
    clock.advance(5.0)
    return stores


def test_half_open_probes_are_limited_fleet_wide(rclient: redis.Redis, clock: ManualClock) -> None:
    """Five stores asking for probes get half_open_max_calls of them in total, not each."""
    stores = open_fleet(rclient, clock, 5, half_open_max_calls=2)
    permits = [each.acquire() for each in stores for _ in range(3)]
    assert sum(p.probe for p in permits) == 2
    assert sum(p.admitted for p in permits) == 2
    assert stores[4].snapshot().state is HALF_OPEN


def test_probe_successes_close_the_breaker_for_everyone(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """When the fleet's probes succeed the breaker closes, and other stores see it closed."""
    a, b, c = open_fleet(rclient, clock, 3, half_open_max_calls=2)
    assert a.acquire().probe and b.acquire().probe and not c.acquire().admitted
    assert a.record(SUCCESS, True) is None
    event = b.record(SUCCESS, True)
    assert event is not None and event.state is CLOSED
    assert event.reason == "2 probe(s) succeeded"
    clock.advance(0.05)
    permit = c.acquire()
    assert permit.admitted and not permit.probe and c.state is CLOSED


def test_probe_failure_reopens_the_breaker_for_everyone(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """A failed probe reopens the breaker and other stores reject for a new reset timeout."""
    a, b = open_fleet(rclient, clock, 2)
    assert a.acquire().probe
    event = a.record(FAILURE, True)
    assert event is not None and event.state is OPEN and event.reason == "1 of 1 probes failed"
    clock.advance(0.05)
    permit = b.acquire()
    assert not permit.admitted and permit.remaining == pytest.approx(4.95)


def test_ignored_probe_frees_its_slot_for_the_fleet(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """A cancelled probe gives its slot back, so another store may probe."""
    a, b = open_fleet(rclient, clock, 2)
    assert a.acquire().probe and not b.acquire().admitted
    a.record(IGNORED, True)
    clock.advance(0.05)
    assert b.acquire().probe


def test_lost_probe_slot_is_reissued_after_reset_timeout(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """A probe whose process died frees its slot after reset_timeout: no wedged HALF_OPEN."""
    a, b = open_fleet(rclient, clock, 2)
    assert a.acquire().probe  # a "crashes" and never reports
    clock.advance(4.9)
    assert not b.acquire().admitted
    clock.advance(0.1)
    assert b.acquire().probe


def test_reserve_probe_asks_redis_whatever_the_cache_says(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """reserve_probe takes a fleet-wide slot in one round trip, and the second store gets none."""
    a, b = open_fleet(rclient, clock, 2)
    assert a.reserve_probe().probe
    assert not b.reserve_probe().admitted


def test_stale_batch_of_an_earlier_generation_is_dropped(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """Outcomes counted before the breaker cycled do not leak into the new closed window."""
    a, b = store(rclient, clock, failure_threshold=1), store(rclient, clock, failure_threshold=1)
    b.acquire()
    b.record(SLOW, False)  # held in b's batch under the first generation
    a.record(FAILURE, False)
    clock.advance(5.0)
    assert a.acquire().probe and a.record(SUCCESS, True) is not None
    assert b.flush() is None  # closed then, closed now: no visible change for b
    snap = a.snapshot()
    assert (snap.state, snap.calls, snap.slow_calls) == (CLOSED, 0, 0)


def test_manual_trip_and_reset_are_shared(rclient: redis.Redis, clock: ManualClock) -> None:
    """A trip in one process opens the breaker for another; a reset reaches an open cache late.

    An open breaker rejects from its cache until its open time is over (no round trips), so
    a manual reset elsewhere is seen then, and the call is admitted without a probe.
    """
    factory = redis_store_factory(rclient, time_source="clock")
    one = CircuitBreaker(name="svc", store_factory=factory, clock=clock)
    two = CircuitBreaker(name="svc", store_factory=factory, clock=clock)
    one.trip("maintenance")
    assert two.snapshot().state is OPEN
    with pytest.raises(CircuitOpenError):
        two.call(int)
    one.reset()
    clock.advance(29.9)
    with pytest.raises(CircuitOpenError):
        two.call(int)
    clock.advance(0.1)
    assert two.call(int) == 0 and two.store.state is CLOSED  # type: ignore[attr-defined]


def test_two_policies_in_separate_registries_share_the_breaker(
    rclient: redis.Redis, clock: ManualClock
) -> None:
    """resilient() with a Redis store factory: one registry's failures reject the other's calls."""
    factory = redis_store_factory(rclient, time_source="clock")
    settings: dict[str, Any] = {
        "max_attempts": 1,
        "failure_threshold": 2,
        "store_factory": factory,
        "clock": clock,
    }
    first = resilient("payments", registry=PolicyRegistry(), **settings)
    second = resilient("payments", registry=PolicyRegistry(), **settings)
    assert second.call(int, "7") == 7
    for _ in range(2):
        with pytest.raises(ConnectionError):
            first.call(boom)
    clock.advance(0.05)
    with pytest.raises(CircuitOpenError) as caught:
        second.call(int, "7")
    assert caught.value.remaining_seconds == pytest.approx(29.95)


def test_keys_use_the_prefix_and_one_hash_tag(rclient: redis.Redis, clock: ManualClock) -> None:
    """Both keys of a breaker carry its name in braces, so a Redis Cluster keeps them together."""
    a = store(rclient, clock, name="pay", prefix="myapp:cb", failure_threshold=1)
    a.record(FAILURE, False)
    assert a.keys == ("myapp:cb:{pay}:state", "myapp:cb:{pay}:window")
    assert sorted(rclient.keys("*")) == [b"myapp:cb:{pay}:state", b"myapp:cb:{pay}:window"]


def test_decoded_responses_client_works(redis_url: str, clock: ManualClock) -> None:
    """A client built with decode_responses=True gets the same answers."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        a = store(client, clock, failure_threshold=1)
        event = a.record(FAILURE, False)
        assert event is not None and a.snapshot().remaining_open == pytest.approx(5.0)
    finally:
        client.close()


def test_redis_time_times_the_open_period(rclient: redis.Redis, clock: ManualClock) -> None:
    """With the default time source, open-until is Redis TIME plus reset_timeout."""
    factory = redis_store_factory(rclient)
    a = factory("db", BreakerConfig(failure_threshold=1, reset_timeout=30.0), clock)
    a.record(FAILURE, False)
    seconds, micros = rclient.time()
    state_key = "resilience:breaker:{db}:state"
    open_until = float(rclient.hget(state_key, "open_until") or 0)
    assert open_until - (seconds + micros / 1e6) == pytest.approx(30.0, abs=1.0)
    assert not a.acquire().admitted


@pytest.mark.parametrize(
    "bad",
    [
        {"flush_interval": 0},
        {"flush_batch": 0},
        {"state_ttl": -1},
        {"retry_after": 0},
        {"prefix": ""},
        {"time_source": "ntp"},
    ],
)
def test_options_are_validated(bad: dict[str, Any]) -> None:
    """Nonsense options fail when the factory is built, not at the first call."""
    with pytest.raises(ValueError):
        RedisStoreOptions(**bad)


# Parity: driven one outcome at a time (flush_batch=1), the Redis store must make exactly the
# decisions the in-memory store makes.
SCENARIOS: dict[str, tuple[dict[str, Any], str]] = {
    "count rate": ({}, "FFS F SSSSSSSS FFFF +5 S"),
    "count window slides": ({"window_size": 4, "failure_rate_threshold": 0.75}, "FFSSSSFF F"),
    "consecutive": ({"failure_threshold": 3, "failure_rate_threshold": None}, "FFSFFF +5 F +5 S"),
    "time window": ({"window": "time"}, "FF +11 FF +3 FF +5 S"),
    "slow rate": ({"slow_call_threshold": 1.0, "slow_call_rate_threshold": 0.5}, "WWSS +5 W"),
    "two probes": ({"half_open_max_calls": 2}, "FFFF +5 SS SS FFFF +5 SF"),
}
OUTCOMES = {"S": SUCCESS, "F": FAILURE, "W": SLOW}


def drive(target: Any, clock: ManualClock, script: str) -> list[tuple[bool, bool, BreakerState]]:
    trace = []
    for token in script.split():
        if token.startswith("+"):
            clock.advance(float(token[1:]))
            continue
        for char in token:
            permit = target.acquire()
            if permit.admitted:
                target.record(OUTCOMES[char], permit.probe)
            trace.append((permit.admitted, permit.probe, target.snapshot().state))
    return trace


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_decisions_match_the_memory_store(redis_url: str, scenario: str) -> None:
    """Count and time windows, rates, thresholds and probes decide exactly as in memory."""
    settings, script = SCENARIOS[scenario]
    client = redis.Redis.from_url(redis_url)
    try:
        config = BreakerConfig(**BASE | settings)
        memory_clock, redis_clock = ManualClock(100.0), ManualClock(100.0)
        memory = MemoryBreakerStore("db", config, memory_clock)
        shared = redis_store_factory(client, time_source="clock", flush_batch=1)
        ours = shared("db", config, redis_clock)
        assert drive(ours, redis_clock, script) == drive(memory, memory_clock, script)
        assert ours.snapshot() == memory.snapshot()
    finally:
        client.close()
