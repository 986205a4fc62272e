"""Policies: the decorator, context-manager and call forms, sync and async, and composition."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import fields
from typing import Any

import pytest

from flask_resilience._foundation.clock import ManualClock
from flask_resilience.errors import (
    BulkheadFullError,
    CallTimeoutError,
    CircuitOpenError,
    ConfigurationError,
    RetryExhaustedError,
)
from flask_resilience.resilient import (
    BreakerEvent,
    BreakerState,
    Fallback,
    LastGoodValue,
    Policy,
    PolicyOptions,
    PolicyRegistry,
    PolicySettings,
    Retry,
    resilient,
    set_testing,
)


class Flaky:
    """Fails ``failures`` times with ConnectionError, then returns its arguments."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"attempt {self.calls}")
        return args, kwargs


def fast(registry: PolicyRegistry, clock: ManualClock, **settings: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"registry": registry, "clock": clock, "backoff_base": 0.0}
    return base | settings


def test_decorator_retries_and_keeps_the_signature(
    registry: PolicyRegistry, clock: ManualClock
) -> None:
    """@resilient retries a sync function and keeps its name and docstring."""
    flaky = Flaky(2)

    @resilient("payments", **fast(registry, clock, max_attempts=3))
    def charge(amount: int, *, currency: str) -> Any:
        """Charge a card."""
        return flaky(amount, currency=currency)

    assert charge(5, currency="EUR") == ((5,), {"currency": "EUR"})
    assert charge.__name__ == "charge" and charge.__doc__ == "Charge a card."
    assert flaky.calls == 3


def test_context_manager_and_call_forms(registry: PolicyRegistry, clock: ManualClock) -> None:
    """with resilient(...) as call and resilient(...).call run the function through the policy."""
    flaky = Flaky(1)
    with resilient("payments", **fast(registry, clock)) as call:
        assert call(flaky, 1, fn="kw") == ((1,), {"fn": "kw"})
    assert resilient("payments", registry=registry).call(flaky, 2) == ((2,), {})


def test_async_decorator_call_and_context_manager(
    registry: PolicyRegistry, clock: ManualClock
) -> None:
    """async def functions get the async path in every form, with awaited retries."""
    attempts: list[int] = []

    @resilient("feed", **fast(registry, clock, max_attempts=3, backoff_base=1.0, jitter="none"))
    async def fetch(page: int) -> int:
        attempts.append(page)
        if len(attempts) < 3:
            raise ConnectionError("reset")
        await asyncio.sleep(0)
        return page

    async def scenario() -> tuple[int, int, int, int]:
        first = await fetch(1)
        second = await resilient("feed", registry=registry).call(fetch, 2)
        async with resilient("feed", registry=registry) as call:
            third = await call(fetch, 3)
        fourth = await resilient("feed", registry=registry).call_async(fetch, 4)
        return first, second, third, fourth

    assert asyncio.run(scenario()) == (1, 2, 3, 4)
    assert clock.sleeps == [1.0, 2.0]


def test_same_name_shares_one_breaker(registry: PolicyRegistry, clock: ManualClock) -> None:
    """Two policies with one name see the same breaker; another name has its own."""
    first = resilient("db", **fast(registry, clock, failure_threshold=2))
    second = resilient("db", registry=registry)
    assert first.breaker is second.breaker is registry.get("db")
    assert resilient("cache", registry=registry).breaker is not first.breaker


def test_conflicting_breaker_settings_are_refused(registry: PolicyRegistry) -> None:
    """Redefining a shared breaker with other settings raises ConfigurationError."""
    resilient("db", registry=registry, failure_threshold=2)
    with pytest.raises(ConfigurationError, match="already exists"):
        resilient("db", registry=registry, failure_threshold=3)


def test_open_breaker_stops_retries_and_fallback_answers(
    registry: PolicyRegistry, clock: ManualClock
) -> None:
    """Each attempt counts in the breaker; once open, retries stop and the fallback answers."""
    flaky = Flaky(100)
    policy = resilient(
        "payments",
        **fast(registry, clock, max_attempts=5, failure_threshold=2),
        fallback=Fallback(function=lambda exc, *a: type(exc).__name__),
    )
    assert policy.call(flaky) == "CircuitOpenError"
    assert flaky.calls == 2
    assert policy.call(flaky) == "CircuitOpenError" and flaky.calls == 2


def test_open_breaker_error_reaches_the_caller(
    registry: PolicyRegistry, clock: ManualClock
) -> None:
    """Without a fallback the caller sees CircuitOpenError with the remaining open time."""
    policy = resilient("db", **fast(registry, clock, max_attempts=1, failure_threshold=1))
    with pytest.raises(ConnectionError):
        policy.call(Flaky(1))
    clock.advance(10.0)
    with pytest.raises(CircuitOpenError) as caught:
        policy.call(Flaky(0))
    assert caught.value.remaining_seconds == pytest.approx(20.0)


def test_exhausted_retries_raise_with_cause(registry: PolicyRegistry, clock: ManualClock) -> None:
    """A policy that runs out of attempts raises RetryExhaustedError chaining the last error."""
    with pytest.raises(RetryExhaustedError) as caught:
        resilient("api", **fast(registry, clock, max_attempts=2)).call(Flaky(5))
    assert caught.value.policy == "api" and caught.value.attempts == 2
    assert str(caught.value.__cause__) == "attempt 2"


def test_timeout_inside_retry_bounds_each_attempt(registry: PolicyRegistry) -> None:
    """Each attempt gets its own timeout and a timed-out attempt is retried."""
    release = threading.Event()
    policy = resilient("slow", registry=registry, max_attempts=2, backoff_base=0.0, timeout=0.02)
    try:
        with pytest.raises(RetryExhaustedError) as caught:
            policy.call(release.wait, 5)
    finally:
        release.set()
    assert isinstance(caught.value.__cause__, CallTimeoutError)
    assert policy.breaker is not None and policy.breaker.snapshot().failures == 2


def test_bulkhead_rejection_is_not_retried_nor_counted(registry: PolicyRegistry) -> None:
    """A full bulkhead rejects at once without retries or a breaker failure."""
    policy = resilient("search", registry=registry, max_concurrent=1, failure_threshold=1)

    def nested() -> None:
        with pytest.raises(BulkheadFullError):
            policy.call(len, "x")

    policy.call(nested)
    assert policy.breaker is not None and policy.breaker.state is BreakerState.CLOSED


def test_last_good_value_as_policy_fallback(registry: PolicyRegistry, clock: ManualClock) -> None:
    """A LastGoodValue fallback serves the last success once retries are exhausted."""
    results: list[Any] = [7, ConnectionError("a"), ConnectionError("b")]

    def price() -> Any:
        value = results.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    policy = resilient("prices", **fast(registry, clock, max_attempts=2), fallback=LastGoodValue())
    assert [policy.call(price), policy.call(price)] == [7, 7]


def test_testing_mode_makes_waits_zero(registry: PolicyRegistry, clock: ManualClock) -> None:
    """set_testing() removes backoff waits from policies built with long delays."""
    set_testing(True)
    policy = resilient("payments", registry=registry, clock=clock, backoff_base=5.0, jitter="none")
    assert policy.call(Flaky(2)) == ((), {})
    assert clock.sleeps == []


def test_single_attempt_has_no_retry_layer(registry: PolicyRegistry) -> None:
    """max_attempts=1 drops the retry layer, so errors reach the caller unwrapped."""
    policy = resilient("once", registry=registry, max_attempts=1)
    assert policy.retry is None
    with pytest.raises(ConnectionError):
        policy.call(Flaky(1))


def test_policy_from_blocks_and_without_layers() -> None:
    """A Policy may be built from chosen blocks, or none, and still runs calls."""
    assert Policy("bare").call(divmod, 7, 2) == (3, 1)
    assert Policy("bare")(len)("ab") == 2
    policy = Policy("r", retry=Retry(max_attempts=2, backoff=None, clock=ManualClock()))
    assert policy.call(Flaky(1)) == ((), {})
    assert "Retry" in repr(policy)


def test_registry_listeners_see_every_breaker(registry: PolicyRegistry, clock: ManualClock) -> None:
    """A registry listener receives state changes of breakers made before and after it."""
    events: list[BreakerEvent] = []
    early = resilient("a", **fast(registry, clock, max_attempts=1, failure_threshold=1))
    registry.add_listener(events.append)
    late = resilient("b", **fast(registry, clock, max_attempts=1, failure_threshold=1))
    for policy in (early, late):
        with pytest.raises(ConnectionError):
            policy.call(Flaky(1))
    opened = BreakerState.OPEN
    assert [(e.name, e.state) for e in events] == [("a", opened), ("b", opened)]
    assert [s.name for s in registry.snapshots()] == ["a", "b"]
    registry.clear()
    assert registry.get("a") is None


def test_defaults_are_bounded() -> None:
    """The default settings retry a few times with a capped backoff."""
    settings = PolicySettings()
    assert settings.max_attempts == 3 and settings.backoff_max == 10.0
    assert settings.reset_timeout < 60 and settings.timeout is None


def test_options_and_settings_list_the_same_keys() -> None:
    """The typed keyword arguments of resilient match the settings dataclass."""
    assert set(PolicyOptions.__annotations__) == {f.name for f in fields(PolicySettings)}


def test_unknown_settings_are_refused(registry: PolicyRegistry) -> None:
    """A misspelt setting raises TypeError instead of being ignored."""
    with pytest.raises(TypeError):
        resilient("x", registry=registry, max_attempt=3)  # type: ignore[call-arg]


def test_broken_registry_listener_does_not_starve_the_others(
    registry: PolicyRegistry, clock: ManualClock
) -> None:
    """A registry listener that raises is logged and later listeners still run."""
    seen: list[str] = []

    def broken(event: BreakerEvent) -> None:
        raise RuntimeError("metrics down")

    registry.add_listener(broken)
    registry.add_listener(lambda event: seen.append(event.name))
    policy = resilient("c", **fast(registry, clock, max_attempts=1, failure_threshold=1))
    with pytest.raises(ConnectionError):
        policy.call(Flaky(1))
    assert seen == ["c"]


def test_fallback_function_receives_only_the_callers_arguments() -> None:
    """Inside a policy the fallback function sees (exc, *args, **kwargs) of the user's call."""
    from flask_resilience._foundation.clock import ManualClock
    from flask_resilience.resilient import Fallback, build_policy

    seen: list[tuple[object, ...]] = []

    def answer(exc: Exception, sku: str, *, region: str) -> str:
        seen.append((type(exc).__name__, sku, region))
        return "cached"

    policy = build_policy(
        "stock",
        registry=PolicyRegistry(),
        max_attempts=2,
        backoff_base=0.0,
        clock=ManualClock(),
        fallback=Fallback(function=answer),
    )

    def lookup(sku: str, *, region: str) -> str:
        raise ConnectionError(sku)

    assert policy.call(lookup, "A-1", region="eu") == "cached"
    assert seen == [("RetryExhaustedError", "A-1", "eu")]
