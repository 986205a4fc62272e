"""Circuit breaker: windows, thresholds, transitions, probes, listeners and concurrency."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from flask_resilience._foundation.clock import ManualClock
from flask_resilience.errors import BulkheadFullError, CircuitOpenError
from flask_resilience.resilient import (
    BreakerConfig,
    BreakerEvent,
    BreakerState,
    CircuitBreaker,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def boom() -> None:
    raise ConnectionError("down")


def ok() -> str:
    return "ok"


def fail(breaker: CircuitBreaker, times: int = 1, fn: Callable[[], Any] = boom) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            breaker.call(fn)


def make(clock: ManualClock, **kwargs: Any) -> tuple[CircuitBreaker, list[BreakerEvent]]:
    events: list[BreakerEvent] = []
    settings: dict[str, Any] = {"window_size": 10, "minimum_calls": 4, "reset_timeout": 5.0}
    breaker = CircuitBreaker(name="db", clock=clock, listeners=[events.append], **settings | kwargs)
    return breaker, events


def test_failure_rate_trips_only_after_minimum_calls(clock: ManualClock) -> None:
    """The rate is not judged before minimum_calls outcomes; the fourth outcome trips it."""
    breaker, events = make(clock)
    fail(breaker, 3)
    assert breaker.state is CLOSED  # 100% failures, but only 3 of the 4 minimum calls
    breaker.call(ok)
    assert breaker.state is OPEN
    assert events[0].reason == "failure rate 75% >= 50% over 4 calls"


def test_successes_keep_the_rate_under_the_threshold(clock: ManualClock) -> None:
    """Failures below the rate threshold leave the breaker closed."""
    breaker, _ = make(clock, failure_rate_threshold=0.5)
    for _ in range(6):
        breaker.call(ok)
    fail(breaker, 4)
    assert breaker.state is CLOSED  # 4 of 10 = 40%


def test_count_window_forgets_old_failures(clock: ManualClock) -> None:
    """Failures that slid out of the count window no longer count toward the rate."""
    breaker, _ = make(clock, window_size=4, minimum_calls=4, failure_rate_threshold=0.75)
    fail(breaker, 2)
    for _ in range(4):
        breaker.call(ok)
    fail(breaker, 2)
    assert breaker.state is CLOSED  # window holds ok, ok, fail, fail = 50%


def test_open_breaker_rejects_with_remaining_time(clock: ManualClock) -> None:
    """An open breaker raises CircuitOpenError with the open time left and skips the call."""
    breaker, _ = make(clock, failure_threshold=1)
    fail(breaker)
    clock.advance(2.0)
    called = []
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(lambda: called.append(1))
    assert caught.value.policy == "db"
    assert caught.value.remaining_seconds == pytest.approx(3.0)
    assert called == []


def test_full_cycle_closed_open_half_open_closed(clock: ManualClock) -> None:
    """A tripped breaker half-opens after reset_timeout and a good probe closes it."""
    breaker, events = make(clock, failure_threshold=2)
    fail(breaker, 2)
    clock.advance(5.0)
    assert breaker.call(ok) == "ok"
    assert breaker.state is CLOSED
    assert [(e.previous, e.state) for e in events] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
    ]
    assert events[0].reason == "2 consecutive failures" and events[0].name == "db"
    assert events[1].at == 5.0


def test_failed_probe_reopens_for_a_full_reset_timeout(clock: ManualClock) -> None:
    """A failing half-open probe opens the breaker again with a fresh reset timeout."""
    breaker, events = make(clock, failure_threshold=1)
    fail(breaker)
    clock.advance(5.0)
    fail(breaker)
    assert breaker.state is OPEN
    assert [e.state for e in events] == [OPEN, HALF_OPEN, OPEN]
    assert breaker.snapshot().remaining_open == pytest.approx(5.0)


def test_half_open_admits_only_the_configured_probes(clock: ManualClock) -> None:
    """While probes are in flight, further calls are rejected until they finish."""
    breaker, _ = make(clock, failure_threshold=1, half_open_max_calls=2)
    fail(breaker)
    clock.advance(5.0)
    inner: list[str] = []

    def probe_that_calls_again() -> str:
        inner.append(breaker.call(ok))  # second probe slot
        with pytest.raises(CircuitOpenError):
            breaker.call(ok)  # no third slot
        return "ok"

    breaker.call(probe_that_calls_again)
    assert inner == ["ok"] and breaker.state is CLOSED


def test_half_open_needs_every_probe_to_succeed_at_strict_rate(clock: ManualClock) -> None:
    """With two probes and a 50% threshold one failed probe reopens the breaker."""
    breaker, _ = make(clock, failure_threshold=1, half_open_max_calls=2)
    fail(breaker)
    clock.advance(5.0)
    breaker.call(ok)
    assert breaker.state is HALF_OPEN
    fail(breaker)
    assert breaker.state is OPEN


def test_time_window_only_counts_recent_calls(clock: ManualClock) -> None:
    """In a time window, failures older than window_size seconds do not count."""
    breaker, _ = make(clock, window="time", window_size=10, minimum_calls=3)
    fail(breaker, 2)
    clock.advance(11.0)
    fail(breaker)
    assert breaker.state is CLOSED  # only one call in the last 10 s
    clock.advance(1.0)
    fail(breaker, 2)
    assert breaker.state is OPEN


def test_time_window_counts_successes_in_the_rate(clock: ManualClock) -> None:
    """In a time window every success counts toward the denominator."""
    breaker, _ = make(clock, window="time", window_size=10, minimum_calls=4)
    for _ in range(20):
        breaker.call(ok)
    fail(breaker, 5)
    assert breaker.state is CLOSED
    assert breaker.snapshot().calls == 25


def test_slow_calls_trip_the_breaker(clock: ManualClock) -> None:
    """Successful but slow calls trip the breaker on the slow-call rate."""
    breaker, events = make(clock, slow_call_threshold=1.0, slow_call_rate_threshold=0.5)

    def slow() -> str:
        clock.advance(2.0)
        return "late"

    for _ in range(2):
        breaker.call(ok)
    for _ in range(2):
        assert breaker.call(slow) == "late"
    assert breaker.state is OPEN
    assert events[0].reason.startswith("slow call rate 50%")


def test_consecutive_failures_reset_on_success(clock: ManualClock) -> None:
    """failure_threshold counts consecutive failures; a success in between starts over."""
    breaker, _ = make(clock, failure_threshold=3, failure_rate_threshold=None)
    fail(breaker, 2)
    breaker.call(ok)
    fail(breaker, 2)
    assert breaker.state is CLOSED
    fail(breaker)
    assert breaker.state is OPEN


def test_exceptions_outside_record_on_count_as_successes(clock: ManualClock) -> None:
    """An exception the dependency is not blamed for leaves the breaker closed."""
    breaker, _ = make(clock, failure_threshold=1, record_on=ConnectionError)

    def bad_input() -> None:
        raise ValueError("bad input")

    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(bad_input)
    assert breaker.state is CLOSED


def test_rejections_and_cancellations_free_the_probe(clock: ManualClock) -> None:
    """A probe ended by a rejection or a BaseException counts nothing and frees its slot."""
    breaker, _ = make(clock, failure_threshold=1)
    fail(breaker)
    clock.advance(5.0)

    def rejected() -> None:
        raise BulkheadFullError("db", 1, 0.0)

    with pytest.raises(BulkheadFullError):
        breaker.call(rejected)
    with pytest.raises(KeyboardInterrupt):
        breaker.call(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert breaker.state is HALF_OPEN
    breaker.call(ok)
    assert breaker.state is CLOSED


def test_manual_trip_and_reset(clock: ManualClock) -> None:
    """trip() opens the breaker and reset() closes it, each announced to listeners."""
    breaker, events = make(clock)
    breaker.trip("maintenance")
    assert breaker.state is OPEN
    breaker.reset()
    assert breaker.state is CLOSED
    assert [e.reason for e in events] == ["maintenance", "reset by hand"]
    breaker.reset()
    assert len(events) == 2  # no event when nothing changes


def test_broken_listener_does_not_break_the_call(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A listener that raises is logged and the call's own outcome is unchanged."""

    def broken(event: BreakerEvent) -> None:
        raise RuntimeError("metrics down")

    breaker = CircuitBreaker(failure_threshold=1, clock=clock, listeners=[broken])
    with caplog.at_level(logging.ERROR):
        fail(breaker)
    assert breaker.state is OPEN
    assert "listener" in caplog.text


def test_snapshot_reports_the_window(clock: ManualClock) -> None:
    """snapshot() returns the state and the window counters."""
    breaker, _ = make(clock)
    breaker.call(ok)
    fail(breaker)
    snap = breaker.snapshot()
    assert (snap.name, snap.state, snap.calls, snap.failures, snap.consecutive_failures) == (
        "db",
        CLOSED,
        2,
        1,
        1,
    )


def test_async_calls_trip_and_reject(clock: ManualClock) -> None:
    """call_async records failures and rejects with CircuitOpenError when open."""
    breaker, _ = make(clock, failure_threshold=2, slow_call_threshold=10.0)

    async def down() -> None:
        raise ConnectionError("down")

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await breaker.call_async(down)
        with pytest.raises(CircuitOpenError):
            await breaker.call_async(down)

    asyncio.run(scenario())
    assert breaker.state is OPEN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": "sliding"},
        {"window_size": 2.5},
        {"minimum_calls": 0},
        {"failure_rate_threshold": 0.0},
        {"failure_rate_threshold": None},
        {"failure_threshold": 0},
        {"slow_call_threshold": 0.0},
        {"half_open_max_calls": 0},
        {"reset_timeout": float("inf")},
    ],
)
def test_invalid_configuration_is_rejected(kwargs: dict[str, Any]) -> None:
    """Out-of-range or contradictory breaker settings raise ValueError."""
    with pytest.raises(ValueError):
        BreakerConfig(**kwargs)


def test_no_lock_is_held_while_the_function_runs() -> None:
    """8 threads x 25 calls of a 2 ms function overlap instead of running one at a time."""
    breaker = CircuitBreaker(name="io", window="time", window_size=60, slow_call_threshold=1.0)

    def io() -> None:
        time.sleep(0.002)

    def worker() -> None:
        for _ in range(25):
            breaker.call(io)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    assert elapsed < 100 * 0.002  # serialised would be 200 x 2 ms = 0.4 s
    assert breaker.snapshot().calls == 200
