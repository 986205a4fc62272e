"""The process-local breaker store: a lock around a few counters, held only for bookkeeping.

The lock guards the counters and transitions, never the user's call. In the CLOSED state with a
full, clean count window a success changes nothing, so ``record`` returns before taking the lock;
``acquire`` in CLOSED is a single attribute read. That is what keeps the hot path near free.
"""

from __future__ import annotations

import threading

from .._foundation.clock import Clock
from ._windows import FAILURE, IGNORED, SLOW, SUCCESS, CountWindow, TimeWindow
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
)


class MemoryBreakerStore:
    """Thread-safe in-memory ``BreakerStore``; one per breaker name in a process.

    >>> from flask_resilience._foundation.clock import ManualClock
    >>> store = MemoryBreakerStore("db", BreakerConfig(failure_threshold=1), ManualClock())
    >>> store.record(FAILURE, False).state
    <BreakerState.OPEN: 'open'>
    """

    def __init__(self, name: str, config: BreakerConfig, clock: Clock) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._window: CountWindow | TimeWindow = (
            CountWindow(int(config.window_size))
            if config.window == "count"
            else TimeWindow(config.window_size)
        )
        self._needs_time = config.window == "time"
        self._state = CLOSED
        self._fast_ok = False
        self._open_until = 0.0
        self._consecutive = 0
        self._probes_issued = self._probes_done = self._probe_failures = self._probe_slow = 0

    @property
    def state(self) -> BreakerState:
        return self._state

    def acquire(self) -> Permit:
        if self._state is CLOSED:
            return ADMITTED
        with self._lock:
            state = self._state
            if state is CLOSED:
                return ADMITTED
            event = None
            if state is OPEN:
                now = self._clock.monotonic()
                if now < self._open_until:
                    return Permit(False, remaining=self._open_until - now)
                event = self._move(HALF_OPEN, now, "reset timeout elapsed")
            permit = self._reserve_probe_locked()
            if event is None:
                return permit
            return Permit(permit.admitted, permit.probe, permit.remaining, event)

    def reserve_probe(self) -> Permit:
        with self._lock:
            return self._reserve_probe_locked()

    def record(self, outcome: int, probe: bool) -> BreakerEvent | None:
        if outcome == SUCCESS and self._fast_ok and not probe:
            return None
        with self._lock:
            state = self._state
            if outcome & IGNORED:
                if probe and state is HALF_OPEN:
                    self._probes_issued -= 1
                return None
            if state is CLOSED and not probe:
                return self._record_closed(outcome)
            if state is HALF_OPEN and probe:
                return self._record_probe(outcome)
            return None  # a call admitted before the last transition: its outcome is stale

    def transition(self, state: BreakerState, reason: str) -> BreakerEvent | None:
        with self._lock:
            if state is self._state:
                return None
            return self._move(state, self._clock.monotonic(), reason)

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            now = self._clock.monotonic()
            calls, failures, slow = self._window.totals(now)
            remaining = max(0.0, self._open_until - now) if self._state is OPEN else 0.0
            return BreakerSnapshot(
                self.name, self._state, calls, failures, slow, self._consecutive, remaining
            )

    def _reserve_probe_locked(self) -> Permit:
        if self._state is not HALF_OPEN:
            return ADMITTED if self._state is CLOSED else Permit(False, remaining=0.0)
        if self._probes_issued >= self.config.half_open_max_calls:
            return Permit(False, remaining=0.0)
        self._probes_issued += 1
        return PROBE

    def _record_closed(self, outcome: int) -> BreakerEvent | None:
        now = self._clock.monotonic() if self._needs_time else 0.0
        self._window.add(outcome, now)
        self._consecutive = self._consecutive + 1 if outcome & FAILURE else 0
        reason = self._trip_reason(now)
        if reason is not None:
            return self._move(OPEN, self._clock.monotonic(), reason)
        self._fast_ok = self._consecutive == 0 and self._window.full_and_clean()
        return None

    def _trip_reason(self, now: float) -> str | None:
        config = self.config
        if config.failure_threshold is not None and self._consecutive >= config.failure_threshold:
            return f"{self._consecutive} consecutive failures"
        calls, failures, slow = self._window.totals(now)
        if calls < config.minimum_calls:
            return None
        rate = config.failure_rate_threshold
        if rate is not None and failures and failures / calls >= rate:
            return f"failure rate {failures / calls:.0%} >= {rate:.0%} over {calls} calls"
        slow_limited = config.slow_call_threshold is not None
        if slow_limited and slow and slow / calls >= config.slow_call_rate_threshold:
            return f"slow call rate {slow / calls:.0%} over {calls} calls"
        return None

    def _record_probe(self, outcome: int) -> BreakerEvent | None:
        config = self.config
        limit = config.half_open_max_calls
        self._probes_done += 1
        self._probe_failures += outcome & FAILURE
        self._probe_slow += (outcome & SLOW) >> 1
        rate = config.failure_rate_threshold
        now = self._clock.monotonic()
        if self._probe_failures and (rate is None or self._probe_failures / limit >= rate):
            return self._move(OPEN, now, f"{self._probe_failures} of {limit} probes failed")
        slow_limited = config.slow_call_threshold is not None
        if slow_limited and self._probe_slow / limit >= config.slow_call_rate_threshold:
            return self._move(OPEN, now, f"{self._probe_slow} of {limit} probes were slow")
        if self._probes_done >= limit:
            return self._move(CLOSED, now, f"{limit} probe(s) succeeded")
        return None

    def _move(self, state: BreakerState, now: float, reason: str) -> BreakerEvent:
        previous, self._state = self._state, state
        self._fast_ok = False
        self._probes_issued = self._probes_done = self._probe_failures = self._probe_slow = 0
        if state is OPEN:
            self._open_until = now + self.config.reset_timeout
        if state is CLOSED:
            self._window.reset()
            self._consecutive = 0
        return BreakerEvent(self.name, previous, state, now, reason)
