"""Compose the building blocks into one named policy: ``@resilient("payments", ...)``.

Order, outermost first: ``fallback(retry(breaker(bulkhead(timeout(call)))))``.

- **Fallback** outermost, so it also answers for ``RetryExhaustedError`` and ``CircuitOpenError``.
- **Retry** outside the breaker, so every attempt is seen (and counted) by the breaker, and an
  open breaker stops the retries at once (rejections are never retried).
- **Breaker** outside the bulkhead, so an open breaker rejects without queueing for a slot and a
  full bulkhead (our own load shedding) is not mistaken for the dependency failing.
- **Bulkhead** outside the timeout, so a slot is held until the call is given up on.
- **Timeout** innermost: it bounds one attempt, not the whole retry sequence, and a timed-out
  attempt counts as a breaker failure.

Every ``resilient(name)`` with the same name shares one ``CircuitBreaker`` through a
``PolicyRegistry`` (``DEFAULT_REGISTRY`` unless you pass your own).
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any, Literal, ParamSpec, Protocol, TypedDict, TypeVar, Unpack, cast

from .._foundation.clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError
from ._matching import ExceptionSpec
from .backoff import Backoff, ExponentialBackoff
from .breaker import BreakerListener, CircuitBreaker
from .bulkhead import Bulkhead
from .fallback import Fallback, LastGoodValue
from .healer import Healer
from .healing_retry import HealingRetry
from .retry import AsyncSleep, Retry, RetryBudget
from .stats import PolicyStats
from .store import BreakerConfig, BreakerEvent, BreakerSnapshot, StoreFactory
from .timeout import ThreadBudget, Timeout

P = ParamSpec("P")
R = TypeVar("R")
_CO_COROUTINE = inspect.CO_COROUTINE

log = logging.getLogger(__name__)


class PolicyOptions(TypedDict, total=False):
    """The keyword arguments of ``resilient``; see ``PolicySettings`` for their meaning."""

    max_attempts: int
    backoff: Backoff | None
    backoff_base: float
    backoff_multiplier: float
    backoff_max: float
    jitter: Literal["full", "none"]
    rng: random.Random | None
    retry_on: ExceptionSpec
    retry_on_result: Callable[[Any], bool] | None
    retry_budget: RetryBudget | None
    breaker: bool
    window: Literal["count", "time"]
    window_size: float
    minimum_calls: int
    failure_rate_threshold: float | None
    failure_threshold: int | None
    slow_call_threshold: float | None
    slow_call_rate_threshold: float
    half_open_max_calls: int
    reset_timeout: float
    record_on: ExceptionSpec
    store_factory: StoreFactory | None
    timeout: float | None
    timeout_threads: ThreadBudget | None
    max_concurrent: int | None
    max_wait: float
    fallback: Fallback | LastGoodValue[Any] | None
    healing: bool
    healer: Healer | None
    alternate: Callable[..., Any] | None
    clock: Clock
    async_sleep: AsyncSleep | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    """Every setting of a policy, with bounded defaults (3 attempts, backoff capped at 10 s).

    Retry: ``max_attempts`` (1 = no retry), ``backoff`` or the exponential ``backoff_*`` and
    ``jitter``, ``retry_on``, ``retry_on_result``, ``retry_budget``. Breaker (``breaker=False``
    drops it): see ``CircuitBreaker``. ``timeout`` seconds per attempt (None = no timeout).
    ``max_concurrent`` calls in flight (None = no bulkhead) and ``max_wait`` for a slot.
    ``fallback``: a ``Fallback`` or ``LastGoodValue``. ``clock`` and ``async_sleep`` for tests.
    """

    max_attempts: int = 3
    backoff: Backoff | None = None
    backoff_base: float = 0.1
    backoff_multiplier: float = 2.0
    backoff_max: float = 10.0
    jitter: Literal["full", "none"] = "full"
    rng: random.Random | None = None
    retry_on: ExceptionSpec = Exception
    retry_on_result: Callable[[Any], bool] | None = None
    retry_budget: RetryBudget | None = None
    breaker: bool = True
    window: Literal["count", "time"] = "count"
    window_size: float = 100
    minimum_calls: int = 10
    failure_rate_threshold: float | None = 0.5
    failure_threshold: int | None = None
    slow_call_threshold: float | None = None
    slow_call_rate_threshold: float = 1.0
    half_open_max_calls: int = 1
    reset_timeout: float = 30.0
    record_on: ExceptionSpec = Exception
    store_factory: StoreFactory | None = None
    timeout: float | None = None
    timeout_threads: ThreadBudget | None = None
    max_concurrent: int | None = None
    max_wait: float = 0.0
    fallback: Fallback | LastGoodValue[Any] | None = None
    healing: bool = False
    healer: Healer | None = None
    alternate: Callable[..., Any] | None = None
    clock: Clock = SYSTEM_CLOCK
    async_sleep: AsyncSleep | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise ValueError(f"max_attempts must be within [1, 100], got {self.max_attempts!r}")
        for name in ("backoff_base", "backoff_max", "max_wait"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.backoff_multiplier < 1:
            raise ValueError(f"backoff_multiplier must be >= 1, got {self.backoff_multiplier!r}")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds or None, got {self.timeout!r}")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1 or None, got {self.max_concurrent!r}")

    def breaker_config(self) -> BreakerConfig:
        """The breaker part, validated."""
        names = [field.name for field in fields(BreakerConfig)]
        return BreakerConfig(**{name: getattr(self, name) for name in names})


class PolicyRegistry:
    """The named breakers of one process (or one app): same name, same breaker.

    Registry-wide listeners see the state changes of every breaker, present and future, which
    is how metrics and logs subscribe once.

    >>> registry = PolicyRegistry()
    >>> first = build_policy("db", registry=registry)
    >>> first.breaker is build_policy("db", registry=registry).breaker
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._listeners: list[BreakerListener] = []

    def breaker(
        self,
        name: str,
        config: BreakerConfig,
        *,
        record_on: ExceptionSpec = Exception,
        store_factory: StoreFactory | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> CircuitBreaker:
        """The breaker called ``name``, built from ``config`` the first time it is asked for.

        Asking again with a different, non-default config is a programming error: two call
        sites would silently disagree about when the circuit opens.
        """
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker.from_config(
                    name, config, record_on=record_on, store_factory=store_factory, clock=clock
                )
                breaker.add_listener(self._dispatch)
                self._breakers[name] = breaker
            elif config not in (breaker.config, _DEFAULT_BREAKER):
                raise ConfigurationError(
                    f"resilient({name!r})",
                    config,
                    f"the breaker already exists with other settings: {breaker.config}",
                )
            return breaker

    def get(self, name: str) -> CircuitBreaker | None:
        """The breaker called ``name``, if one was built."""
        return self._breakers.get(name)

    def breakers(self) -> list[CircuitBreaker]:
        """Every breaker built so far, sorted by name."""
        with self._lock:
            return [breaker for _, breaker in sorted(self._breakers.items())]

    def snapshots(self) -> list[BreakerSnapshot]:
        """The state of every breaker, sorted by name (for health pages and the CLI)."""
        with self._lock:
            breakers = sorted(self._breakers.items())
        return [breaker.snapshot() for _, breaker in breakers]

    def add_listener(self, listener: BreakerListener) -> None:
        """Call ``listener(event)`` on every state change of every breaker of this registry."""
        self._listeners.append(listener)

    def clear(self) -> None:
        """Forget every breaker and listener (tests; a new app)."""
        with self._lock:
            self._breakers.clear()
            self._listeners.clear()

    def _dispatch(self, event: BreakerEvent) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                # One broken subscriber must not starve the others, nor fail the call.
                log.exception("registry listener %r failed on %r", listener, event)


_DEFAULT_BREAKER = BreakerConfig()
DEFAULT_REGISTRY = PolicyRegistry()
"""The registry ``resilient`` uses when none is passed; the Flask extension may pass its own."""


class Caller(Protocol):
    """What ``with resilient(...) as call`` binds: ``call(fn, *args, **kwargs)``."""

    def __call__(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...


class Policy:
    """Named composition of the building blocks; see the module docstring for the order.

    Build one from blocks, or let ``resilient`` build it from settings:

    >>> policy = Policy("inventory", retry=Retry(max_attempts=2), timeout=Timeout(seconds=5))
    >>> policy.call(sum, [1, 2])
    3
    """

    def __init__(
        self,
        name: str,
        *,
        fallback: Fallback | LastGoodValue[Any] | None = None,
        retry: Retry | HealingRetry | None = None,
        breaker: CircuitBreaker | None = None,
        bulkhead: Bulkhead | None = None,
        timeout: Timeout | None = None,
        stats: PolicyStats | None = None,
    ) -> None:
        self.name = name
        self.fallback, self.retry, self.breaker = fallback, retry, breaker
        self.bulkhead, self.timeout, self.stats = bulkhead, timeout, stats
        # Stats sit inside the fallback: a call the fallback rescued still counts as failed,
        # so the health ratio reports the dependency, not the user's experience of it.
        inner = [x for x in (stats, retry, breaker, bulkhead, timeout) if x is not None]
        if isinstance(retry, HealingRetry):
            # The alternate and fallback of the healer must see the caller's own arguments.
            retry.inner_layers = sum(x is not None for x in (breaker, bulkhead, timeout))
        outer: Any = fallback
        if isinstance(fallback, Fallback):
            outer = fallback.in_chain(len(inner))
        layers = [outer, *inner] if outer is not None else inner
        self._sync: tuple[Callable[..., Any], ...] = tuple(layer.call for layer in layers)
        self._async: tuple[Callable[..., Any], ...] = tuple(layer.call_async for layer in layers)

    @classmethod
    def from_settings(
        cls,
        name: str,
        settings: PolicySettings,
        *,
        registry: PolicyRegistry | None = None,
        stats: PolicyStats | None = None,
    ) -> Policy:
        """Build the blocks ``settings`` ask for; the breaker comes from ``registry``."""
        s, registry = settings, registry if registry is not None else DEFAULT_REGISTRY
        breaker = None
        if s.breaker:
            breaker = registry.breaker(
                name,
                s.breaker_config(),
                record_on=s.record_on,
                store_factory=s.store_factory,
                clock=s.clock,
            )
        bulkhead = None
        if s.max_concurrent is not None:
            bulkhead = Bulkhead(name=name, max_concurrent=s.max_concurrent, max_wait=s.max_wait)
        timeout = None
        if s.timeout is not None:
            timeout = Timeout(name=name, seconds=s.timeout, threads=s.timeout_threads)
        retry: Retry | HealingRetry | None = None
        if s.healing and s.healer is not None:
            retry = _build_healing_retry(name, s)
        elif s.max_attempts > 1:
            retry = _build_retry(name, s)
        return cls(
            name,
            fallback=s.fallback,
            retry=retry,
            breaker=breaker,
            bulkhead=bulkhead,
            timeout=timeout,
            stats=stats,
        )

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` (sync or ``async def``); the layers are bound once, here."""
        if _is_coroutine_function(fn):
            return cast(Callable[P, R], _bind(fn, self._async, is_async=True))
        return cast(Callable[P, R], _bind(fn, self._sync, is_async=False))

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` through the policy; for ``async def`` return an awaitable."""
        if _is_coroutine_function(fn):
            return cast(R, self._call_async(fn, args, kwargs))
        layers = self._sync
        if not layers:
            return fn(*args, **kwargs)
        return cast(R, layers[0](*layers[1:], fn, *args, **kwargs))

    async def call_async(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Await ``fn`` through the policy; for callables ``call`` cannot tell are async."""
        return cast(R, await self._call_async(fn, args, kwargs))

    async def _call_async(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        layers = self._async
        if not layers:
            return await fn(*args, **kwargs)
        return await layers[0](*layers[1:], fn, *args, **kwargs)

    def __enter__(self) -> Caller:
        return self.call

    def __exit__(self, *exc_info: object) -> None:
        return None

    async def __aenter__(self) -> Caller:
        return self.call

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        blocks = (self.fallback, self.retry, self.breaker, self.bulkhead, self.timeout)
        return f"Policy({self.name!r}, {[type(b).__name__ for b in blocks if b is not None]})"


def build_policy(
    name: str, /, *, registry: PolicyRegistry | None = None, **settings: Unpack[PolicyOptions]
) -> Policy:
    """A concrete policy from explicit ``settings`` only (no app configuration, no presets).

    >>> from flask_resilience._foundation.clock import ManualClock
    >>> @build_policy("payments", max_attempts=3, clock=ManualClock(), registry=PolicyRegistry())
    ... def charge(amount: int) -> str:
    ...     return f"charged {amount}"
    >>> charge(5)
    'charged 5'
    >>> with build_policy("payments", registry=PolicyRegistry()) as call:
    ...     call(charge, 7)
    'charged 7'
    """
    return Policy.from_settings(name, PolicySettings(**settings), registry=registry)


def _build_retry(name: str, s: PolicySettings) -> Retry:
    backoff = s.backoff or ExponentialBackoff(
        base=s.backoff_base,
        multiplier=s.backoff_multiplier,
        max_delay=s.backoff_max,
        jitter=s.jitter,
        rng=s.rng,
    )
    return Retry(
        name=name,
        max_attempts=s.max_attempts,
        backoff=backoff,
        retry_on=s.retry_on,
        retry_on_result=s.retry_on_result,
        budget=s.retry_budget,
        clock=s.clock,
        async_sleep=s.async_sleep,
    )


def _build_healing_retry(name: str, s: PolicySettings) -> HealingRetry:
    assert s.healer is not None
    return HealingRetry(
        name=name,
        healer=s.healer,
        max_attempts=s.max_attempts,
        fallback=s.fallback,
        alternate=s.alternate,
        retry_on=s.retry_on,
        budget=s.retry_budget,
        clock=s.clock,
        async_sleep=s.async_sleep,
    )


def _bind(fn: Callable[..., Any], layers: tuple[Callable[..., Any], ...], *, is_async: bool) -> Any:
    """Build the wrapper once, so a call costs one tuple and no closures."""
    if not layers:
        return fn
    head, rest = layers[0], (*layers[1:], fn)
    if is_async:

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await head(*rest, *args, **kwargs)

        return async_wrapper
    if len(rest) == 1:

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return head(fn, *args, **kwargs)

        return wrapper

    @functools.wraps(fn)
    def chained(*args: Any, **kwargs: Any) -> Any:
        return head(*rest, *args, **kwargs)

    return chained


def _is_coroutine_function(fn: object) -> bool:
    code = getattr(fn, "__code__", None)
    if code is not None:
        return bool(code.co_flags & _CO_COROUTINE)
    return inspect.iscoroutinefunction(fn)
