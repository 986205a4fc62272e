"""Retry a call a bounded number of times, with backoff and a shared retry budget.

Retries hide short blips, but in a real outage every client retrying ``N`` times multiplies the
load on the struggling dependency by ``N``. ``RetryBudget`` caps retries to a fraction of recent
calls (plus a small floor per second), the way Finagle and gRPC do, so a fleet backs off as a
whole. Rejections by a breaker or bulkhead (``CallRejectedError``) are never retried: they mean
"do not call now", and retrying them would only burn the budget.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from .._foundation.clock import SYSTEM_CLOCK, Clock, SystemClock
from ..errors import CallRejectedError, RetryExhaustedError
from ._matching import ExceptionSpec, exception_matcher
from .backoff import Backoff, ExponentialBackoff
from .testing import TESTING

P = ParamSpec("P")
R = TypeVar("R")
AsyncSleep = Callable[[float], Awaitable[None]]


MAX_SERVER_HINT_SECONDS = 60.0
"""Longest wait a ``retry_after`` hint on an exception may impose on one retry."""


class RetryBudget:
    """A token bucket that allows retries as a ``ratio`` of calls plus ``min_per_second``.

    Every call deposits ``ratio`` tokens; every retry spends one. Time adds ``min_per_second``
    tokens per second so a quiet service can still retry. The balance never exceeds
    ``max_tokens``, which bounds the burst after a calm period. Deposits are lock-free and may
    lose an update under contention (the budget is a safety valve, not an accountant); spending
    is locked and reads the clock, so the success path never touches either.

    >>> budget = RetryBudget(ratio=0.5, min_per_second=0.0, max_tokens=1.0)
    >>> budget.deposit(); budget.deposit()
    >>> budget.try_spend(), budget.try_spend()
    (True, False)
    """

    __slots__ = ("_balance", "_clock", "_last", "_lock", "max_tokens", "min_per_second", "ratio")

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        max_tokens: float = 100.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"ratio must be within [0, 1], got {ratio!r}")
        if min_per_second < 0 or max_tokens < 1:
            raise ValueError("min_per_second must be >= 0 and max_tokens >= 1")
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.max_tokens = max_tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._balance = min(max_tokens, min_per_second)
        self._last = clock.monotonic()

    def deposit(self) -> None:
        """Credit one call; called once per logical call, not per attempt."""
        balance = self._balance + self.ratio
        self._balance = balance if balance < self.max_tokens else self.max_tokens

    def try_spend(self) -> bool:
        """Take one token for a retry; ``False`` means the budget is exhausted."""
        with self._lock:
            now = self._clock.monotonic()
            refill = (now - self._last) * self.min_per_second
            self._last = now
            balance = min(self.max_tokens, self._balance + refill)
            if balance < 1.0 - 1e-9:  # ten deposits of 0.1 make 0.9999999999999999
                self._balance = balance
                return False
            self._balance = max(0.0, balance - 1.0)
            return True

    @property
    def balance(self) -> float:
        """Tokens available right now, without the time refill since the last spend."""
        return self._balance


class Retry:
    """Call again after a failure, at most ``max_attempts`` times in total.

    ``retry_on`` picks the exceptions worth retrying (types, a tuple or a predicate);
    ``retry_on_result`` retries when the result itself signals failure. When every attempt
    failed, ``RetryExhaustedError`` is raised with the last exception as ``__cause__``.

    >>> from flask_resilience._foundation.clock import ManualClock
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("reset")
    ...     return "ok"
    >>> Retry(max_attempts=3, clock=ManualClock()).call(flaky)
    'ok'
    """

    __slots__ = (
        "_async_sleep",
        "_counter_lock",
        "_is_retryable",
        "_sleep",
        "backoff",
        "budget",
        "healed",
        "max_attempts",
        "name",
        "retries",
        "retry_on_result",
    )

    def __init__(
        self,
        *,
        name: str = "anonymous",
        max_attempts: int = 3,
        backoff: Backoff | None = None,
        retry_on: ExceptionSpec = Exception,
        retry_on_result: Callable[[Any], bool] | None = None,
        budget: RetryBudget | None = None,
        clock: Clock = SYSTEM_CLOCK,
        async_sleep: AsyncSleep | None = None,
    ) -> None:
        if not 1 <= max_attempts <= 100:
            raise ValueError(f"max_attempts must be within [1, 100], got {max_attempts!r}")
        self.name = name
        self.max_attempts = max_attempts
        self.backoff: Backoff = backoff if backoff is not None else ExponentialBackoff()
        self.retry_on_result = retry_on_result
        self.budget = budget
        self._is_retryable = exception_matcher(retry_on)
        self._sleep = clock.sleep
        self._async_sleep = async_sleep if async_sleep is not None else default_async_sleep(clock)
        # Counted only on the failure path, which already sleeps; the success path stays bare.
        self._counter_lock = threading.Lock()
        self.retries = 0
        self.healed = 0

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` with retries; the first attempt costs one extra frame."""
        if self.budget is not None:
            self.budget.deposit()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            return self._again(fn, args, kwargs, exc)
        if self.retry_on_result is not None and self.retry_on_result(result):
            return self._again(fn, args, kwargs, None)
        return result

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """The ``async`` twin of ``call``; waits with the injectable async sleep."""
        if self.budget is not None:
            self.budget.deposit()
        attempt = 1
        while True:
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                delay = self._next_delay(attempt, exc)
            else:
                if self.retry_on_result is None or not self.retry_on_result(result):
                    if attempt > 1:
                        self._count_healed()
                    return result
                delay = self._next_delay(attempt, None)
            if delay > 0.0:
                await self._async_sleep(delay)
            attempt += 1

    def _again(
        self,
        fn: Callable[..., R],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: Exception | None,
    ) -> R:
        attempt = 1
        while True:
            delay = self._next_delay(attempt, exc)
            if delay > 0.0:
                self._sleep(delay)
            attempt += 1
            try:
                result = fn(*args, **kwargs)
            except Exception as next_exc:
                exc = next_exc
                continue
            if self.retry_on_result is None or not self.retry_on_result(result):
                self._count_healed()
                return result
            exc = None

    def _next_delay(self, attempt: int, exc: Exception | None) -> float:
        """The wait before the next attempt, or raise if there must be no next attempt."""
        if exc is not None and (isinstance(exc, CallRejectedError) or not self._is_retryable(exc)):
            raise exc
        limit = self.max_attempts
        if TESTING.enabled and TESTING.attempts is not None:
            limit = min(limit, TESTING.attempts)
        if attempt >= limit or (self.budget is not None and not self.budget.try_spend()):
            raise RetryExhaustedError(self.name, attempt, exc) from exc
        with self._counter_lock:
            self.retries += 1
        if TESTING.enabled:
            return 0.0
        delay = self.backoff.delay(attempt)
        # A server that says when to come back (Retry-After) knows better than our schedule.
        hint = getattr(exc, "retry_after", None)
        if isinstance(hint, int | float) and hint > delay:
            delay = min(float(hint), MAX_SERVER_HINT_SECONDS)
        return delay

    def _count_healed(self) -> None:
        """A call that succeeded after at least one failed attempt."""
        with self._counter_lock:
            self.healed += 1

    def __repr__(self) -> str:
        return (
            f"Retry(name={self.name!r}, max_attempts={self.max_attempts}, backoff={self.backoff!r})"
        )


def default_async_sleep(clock: Clock) -> AsyncSleep:
    """``asyncio.sleep`` for the real clock; for an injected clock, its ``sleep`` plus a yield."""
    if isinstance(clock, SystemClock):
        return asyncio.sleep

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        await asyncio.sleep(0)

    return sleep
