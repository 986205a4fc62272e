"""The circuit breaker: stop calling a dependency that keeps failing, and probe it to recover.

CLOSED counts outcomes in a sliding window (the last N calls, or the last N seconds) and trips to
OPEN when the failure rate or the slow-call rate crosses its threshold after ``minimum_calls``,
or after ``failure_threshold`` consecutive failures. OPEN rejects calls with
``CircuitOpenError`` for ``reset_timeout`` seconds, then HALF_OPEN lets ``half_open_max_calls``
probes through: they close the breaker again or reopen it.

No lock is held while the user's function runs; the store takes a short lock for bookkeeping
only, and none at all for a success in a healthy CLOSED breaker.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, ParamSpec, TypeVar

from .._foundation.clock import SYSTEM_CLOCK, Clock
from ..errors import CallRejectedError, CircuitOpenError
from ._matching import ExceptionSpec, exception_matcher
from ._windows import FAILURE, IGNORED, SLOW, SUCCESS
from .memory_store import MemoryBreakerStore
from .store import (
    ADMITTED,
    CLOSED,
    OPEN,
    BreakerConfig,
    BreakerEvent,
    BreakerSnapshot,
    BreakerState,
    Permit,
    StoreFactory,
)

P = ParamSpec("P")
R = TypeVar("R")
BreakerListener = Callable[[BreakerEvent], object]

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Fail fast while a dependency is down, and find out cheaply when it is back.

    ``record_on`` says which exceptions are the dependency's fault; other exceptions (a 404, a
    validation error) count as successes because the dependency answered. Listeners receive a
    frozen ``BreakerEvent`` on every state change.

    >>> from flask_resilience._foundation.clock import ManualClock
    >>> breaker = CircuitBreaker(name="db", failure_threshold=2, clock=ManualClock())
    >>> for _ in range(2):
    ...     try:
    ...         breaker.call(int, "not a number")
    ...     except ValueError:
    ...         pass
    >>> breaker.state
    <BreakerState.OPEN: 'open'>
    """

    def __init__(
        self,
        *,
        name: str = "anonymous",
        window: Literal["count", "time"] = "count",
        window_size: float = 100,
        minimum_calls: int = 10,
        failure_rate_threshold: float | None = 0.5,
        failure_threshold: int | None = None,
        slow_call_threshold: float | None = None,
        slow_call_rate_threshold: float = 1.0,
        half_open_max_calls: int = 1,
        reset_timeout: float = 30.0,
        record_on: ExceptionSpec = Exception,
        store_factory: StoreFactory | None = None,
        clock: Clock = SYSTEM_CLOCK,
        listeners: Iterable[BreakerListener] = (),
    ) -> None:
        config = BreakerConfig(
            window=window,
            window_size=window_size,
            minimum_calls=minimum_calls,
            failure_rate_threshold=failure_rate_threshold,
            failure_threshold=failure_threshold,
            slow_call_threshold=slow_call_threshold,
            slow_call_rate_threshold=slow_call_rate_threshold,
            half_open_max_calls=half_open_max_calls,
            reset_timeout=reset_timeout,
        )
        self._setup(name, config, exception_matcher(record_on), store_factory, clock)
        self.listeners: list[BreakerListener] = list(listeners)

    @classmethod
    def from_config(
        cls,
        name: str,
        config: BreakerConfig,
        *,
        record_on: ExceptionSpec = Exception,
        store_factory: StoreFactory | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> CircuitBreaker:
        """Build from an already validated ``BreakerConfig`` (what a policy registry holds)."""
        breaker = cls.__new__(cls)
        breaker._setup(name, config, exception_matcher(record_on), store_factory, clock)
        breaker.listeners = []
        return breaker

    def _setup(
        self,
        name: str,
        config: BreakerConfig,
        is_failure: Callable[[BaseException], bool],
        store_factory: StoreFactory | None,
        clock: Clock,
    ) -> None:
        self.name = name
        self.config = config
        self._is_failure = is_failure
        self._clock = clock
        factory: StoreFactory = store_factory if store_factory is not None else MemoryBreakerStore
        self.store = factory(name, config, clock)
        self._acquire = self.store.acquire
        self._record = self.store.record
        self._slow_after = config.slow_call_threshold

    @property
    def state(self) -> BreakerState:
        """The current state (may move to HALF_OPEN only when a call asks to pass)."""
        return self.store.snapshot().state

    def snapshot(self) -> BreakerSnapshot:
        """State and window counters, for health pages and dashboards."""
        return self.store.snapshot()

    def add_listener(self, listener: BreakerListener) -> None:
        """Call ``listener(event)`` on every state change, after the store released its lock."""
        self.listeners.append(listener)

    def trip(self, reason: str = "tripped by hand") -> None:
        """Open the breaker now, e.g. during a planned maintenance of the dependency."""
        self._emit(self.store.transition(OPEN, reason))

    def reset(self, reason: str = "reset by hand") -> None:
        """Close the breaker now and forget the window."""
        self._emit(self.store.transition(CLOSED, reason))

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` if the breaker allows it and record how it went."""
        permit = self._acquire()
        if permit is not ADMITTED:
            self._admit(permit)
        if self._slow_after is not None:
            return self._call_timed(permit, fn, args, kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._emit(self._record(self._classify(exc), permit.probe))
            raise
        event = self._record(SUCCESS, permit.probe)
        if event is not None:
            self._emit(event)
        return result

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """The ``async`` twin of ``call``; a cancelled call frees its probe and counts nothing."""
        permit = self._acquire()
        if permit is not ADMITTED:
            self._admit(permit)
        start = self._clock.monotonic() if self._slow_after is not None else 0.0
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._emit(self._record(self._classify(exc) | self._slowness(start), permit.probe))
            raise
        event = self._record(SUCCESS | self._slowness(start), permit.probe)
        if event is not None:
            self._emit(event)
        return result

    def _call_timed(
        self, permit: Permit, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> R:
        start = self._clock.monotonic()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._emit(self._record(self._classify(exc) | self._slowness(start), permit.probe))
            raise
        self._emit(self._record(SUCCESS | self._slowness(start), permit.probe))
        return result

    def _admit(self, permit: Permit) -> None:
        """Off the hot path: emit the transition ``acquire`` made, raise if rejected."""
        if permit.event is not None:
            self._emit(permit.event)
        if not permit.admitted:
            raise CircuitOpenError(self.name, permit.remaining)

    def _slowness(self, start: float) -> int:
        slow_after = self._slow_after
        if slow_after is None or self._clock.monotonic() - start < slow_after:
            return SUCCESS
        return SLOW

    def _classify(self, exc: BaseException) -> int:
        if not isinstance(exc, Exception) or isinstance(exc, CallRejectedError):
            return IGNORED
        return FAILURE if self._is_failure(exc) else SUCCESS

    def _emit(self, event: BreakerEvent | None) -> None:
        if event is None:
            return
        for listener in tuple(self.listeners):
            try:
                listener(event)
            except Exception:
                # A broken listener (metrics, logging) must never fail or block the call path.
                log.exception("breaker listener %r failed on %r", listener, event)

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.store.snapshot().state.value!r})"
