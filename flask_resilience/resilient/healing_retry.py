"""``HealingRetry``: the ``Retry`` layer of a policy, with the strategy after each failure chosen
by a ``Healer`` instead of fixed.

The first attempt is a plain call: on success it costs a counter increment and no lock. After a
failure the healer picks ``retry`` / ``retry_fast`` (wait, call again), ``alternate`` (call the
registered second callable), ``fallback`` (answer with the fallback) or ``fail_fast`` (re-raise),
and learns from the outcome. At most ``max_attempts`` calls of the dependency or the alternate are
made; when they are spent the fallback, if any, answers, else ``RetryExhaustedError`` is raised.

Rejections (``CallRejectedError``: open breaker, full bulkhead) are never retried, but the
fallback or the alternate may answer for them: the alternate bypasses the primary's breaker.
Exceptions that ``retry_on`` does not match propagate untouched, as with ``Retry``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from .._foundation.clock import SYSTEM_CLOCK, Clock
from ..errors import CallRejectedError, RetryExhaustedError
from ._matching import ExceptionSpec, exception_matcher
from .fallback import Fallback, LastGoodValue
from .healer import ALTERNATE, FAIL_FAST, FALLBACK, RETRY, RETRY_FAST, Healer, signature_of
from .retry import AsyncSleep, RetryBudget, default_async_sleep
from .testing import TESTING

P = ParamSpec("P")
R = TypeVar("R")
FallbackSpec = Fallback | LastGoodValue[Any] | Callable[..., Any]
"""A ``Fallback``, a ``LastGoodValue``, or ``function(exc, *args, **kwargs)``."""


class HealingRetry:
    """Retry layer whose strategy after each failure is learned by ``healer``.

    ``inner_layers`` is how many policy layers sit between this one and the user's function
    (``Policy`` must set it), so the alternate and the fallback receive the user's own arguments.

    >>> import random
    >>> from flask_resilience._foundation.clock import ManualClock
    >>> calls = []
    >>> def flaky(x: int) -> int:
    ...     calls.append(x)
    ...     if len(calls) < 2:
    ...         raise ConnectionError("reset")
    ...     return x * 2
    >>> healer = Healer(exploration_rate=0.0, rng=random.Random(0))
    >>> HealingRetry(name="db", healer=healer, clock=ManualClock()).call(flaky, 21)
    42
    >>> healer.stats().healed
    1
    """

    __slots__ = (
        "_async_sleep",
        "_counters",
        "_is_retryable",
        "_remember",
        "_sleep",
        "alternate",
        "budget",
        "fallback",
        "healed",
        "healer",
        "inner_layers",
        "max_attempts",
        "name",
        "retries",
    )

    def __init__(
        self,
        *,
        name: str = "anonymous",
        healer: Healer,
        max_attempts: int = 3,
        fallback: FallbackSpec | None = None,
        alternate: Callable[..., Any] | None = None,
        retry_on: ExceptionSpec = Exception,
        budget: RetryBudget | None = None,
        clock: Clock = SYSTEM_CLOCK,
        async_sleep: AsyncSleep | None = None,
        inner_layers: int = 0,
    ) -> None:
        if not 1 <= max_attempts <= 100:
            raise ValueError(f"max_attempts must be within [1, 100], got {max_attempts!r}")
        self.name = name
        self.healer = healer
        self.max_attempts = max_attempts
        self.fallback = fallback
        self.alternate = alternate
        self.budget = budget
        self.inner_layers = inner_layers
        # Like Retry's: counted on the failure path only (without a lock; see HealerCounters).
        self.retries = 0
        self.healed = 0
        self._counters = healer.counters
        self._remember = fallback.remember if isinstance(fallback, LastGoodValue) else None
        self._is_retryable = exception_matcher(retry_on)
        self._sleep = clock.sleep
        self._async_sleep = async_sleep if async_sleep is not None else default_async_sleep(clock)

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)``, healing failures as the healer learned."""
        if self.budget is not None:
            self.budget.deposit()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            return cast(R, self._heal(fn, args, kwargs, exc))
        if self._remember is not None:
            self._remember(result)
        self._counters.successes += 1
        return result

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """The ``async`` twin of ``call``; the alternate and the fallback may be ``async def``."""
        if self.budget is not None:
            self.budget.deposit()
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            return cast(R, await self._heal_async(fn, args, kwargs, exc))
        if self._remember is not None:
            self._remember(result)
        self._counters.successes += 1
        return result

    def _heal(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
    ) -> Any:
        run = _Healing(self, args, kwargs, exc)
        while True:
            strategy, delay = run.decide()
            if strategy == FALLBACK:
                try:
                    value = run.fallback_value()
                except Exception:
                    run.fallback_failed()
                    continue
                return run.answered(value)
            if delay > 0.0:
                self._sleep(delay)
            try:
                if strategy == ALTERNATE:
                    result = cast(Callable[..., Any], self.alternate)(*run.user_args, **kwargs)
                else:
                    result = fn(*args, **kwargs)
            except Exception as next_exc:
                run.failed(next_exc)
                continue
            return run.answered(result)

    async def _heal_async(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
    ) -> Any:
        run = _Healing(self, args, kwargs, exc)
        while True:
            strategy, delay = run.decide()
            if strategy == FALLBACK:
                try:
                    value = run.fallback_value()
                    if inspect.isawaitable(value):
                        value = await value
                except Exception:
                    run.fallback_failed()
                    continue
                return run.answered(value)
            if delay > 0.0:
                await self._async_sleep(delay)
            try:
                if strategy == ALTERNATE:
                    result = cast(Callable[..., Any], self.alternate)(*run.user_args, **kwargs)
                    if inspect.isawaitable(result):
                        result = await result
                else:
                    result = await fn(*args, **kwargs)
            except Exception as next_exc:
                run.failed(next_exc)
                continue
            return run.answered(result)

    def __repr__(self) -> str:
        return f"HealingRetry(name={self.name!r}, max_attempts={self.max_attempts})"


class _Healing:
    """The failure path of one call: whose turn, what was tried, what to feed back."""

    __slots__ = (
        "attempts",
        "delay",
        "exc",
        "fallback_ok",
        "kwargs",
        "layer",
        "retries",
        "signature",
        "strategy",
        "user_args",
    )

    def __init__(
        self, layer: HealingRetry, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
    ) -> None:
        self.layer = layer
        self.user_args = args[layer.inner_layers :]
        self.kwargs = kwargs
        self.exc = exc
        self.signature = signature_of(layer.name, exc)
        self.attempts = 1
        self.retries = 0
        self.fallback_ok = layer.fallback is not None
        self.strategy = FAIL_FAST
        self.delay = 0.0

    def decide(self) -> tuple[str, float]:
        """The next strategy and its wait; raises when there is nothing left to try."""
        layer, exc = self.layer, self.exc
        rejected = isinstance(exc, CallRejectedError)
        if not rejected and not layer._is_retryable(exc):
            self._give_up(exc)
        limit = layer.max_attempts
        if TESTING.enabled and TESTING.attempts is not None:
            limit = min(limit, TESTING.attempts)
        allowed = self._allowed(rejected, exhausted=self.attempts >= limit)
        if not allowed:
            self._give_up(exc if rejected else self._exhausted())
        decision = layer.healer.decide(self.signature, allowed, self.retries + 1)
        self.strategy, self.delay = decision.strategy, decision.delay
        if self.strategy == FAIL_FAST:
            layer.healer.record(self.signature, FAIL_FAST, False)
            self._give_up(exc)
        if self.strategy in (RETRY, RETRY_FAST):
            if layer.budget is not None and not layer.budget.try_spend():
                self._give_up(self._exhausted())
            self.retries += 1
        if self.strategy != FALLBACK:
            self.attempts += 1
            layer.retries += 1
        return self.strategy, 0.0 if TESTING.enabled else self.delay

    def _allowed(self, rejected: bool, *, exhausted: bool) -> tuple[str, ...]:
        fallback: tuple[str, ...] = (FALLBACK,) if self.fallback_ok else ()
        if not self.signature.retryable and not rejected:
            return (*fallback, FAIL_FAST)  # a replica would refuse a bad request just the same
        if self.layer.alternate is not None and not exhausted:
            fallback = (ALTERNATE, *fallback)
        return fallback if rejected or exhausted else (RETRY, RETRY_FAST, *fallback)

    def _exhausted(self) -> RetryExhaustedError:
        error = RetryExhaustedError(self.layer.name, self.attempts, self.exc)
        error.__cause__, error.__suppress_context__ = self.exc, True
        return error

    def _give_up(self, error: Exception) -> None:
        self.layer._counters.failures += 1
        raise error

    def fallback_value(self) -> Any:
        """The fallback's answer for the current exception (maybe awaitable); raises if none."""
        fallback, exc = self.layer.fallback, self.exc
        if isinstance(fallback, Fallback):
            return fallback.call(_raiser(exc), *self.user_args, **self.kwargs)
        if isinstance(fallback, LastGoodValue):
            return fallback.call(_raiser(exc))
        return cast(Callable[..., Any], fallback)(exc, *self.user_args, **self.kwargs)

    def fallback_failed(self) -> None:
        self.layer.healer.record(self.signature, FALLBACK, False)
        self.fallback_ok = False

    def failed(self, exc: Exception) -> None:
        """The attempt of the chosen strategy failed with ``exc``: learn, then look at ``exc``."""
        self._record(False)
        self.exc = exc
        self.signature = signature_of(self.layer.name, exc)

    def answered(self, result: Any) -> Any:
        """The chosen strategy produced ``result``: the call is healed."""
        self._record(True)
        layer = self.layer
        if layer._remember is not None and self.strategy != FALLBACK:
            layer._remember(result)
        layer.healed += 1
        counters = layer._counters
        counters.successes += 1
        counters.healed += 1
        return result

    def _record(self, succeeded: bool) -> None:
        self.layer.healer.record(
            self.signature,
            self.strategy,
            succeeded,
            delay=self.delay,
            retry_number=self.retries,
        )


def _raiser(exc: Exception) -> Callable[..., Any]:
    def raise_it(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return raise_it
