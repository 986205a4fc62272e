"""Retry: which failures are retried, how long it waits, when it gives up, and the budget."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from flask_resilience._foundation.clock import ManualClock
from flask_resilience.errors import CircuitOpenError, RetryExhaustedError
from flask_resilience.resilient import (
    ConstantBackoff,
    ExponentialBackoff,
    Retry,
    RetryBudget,
    set_testing,
)


def flaky(failures: int, exc: Exception | None = None) -> Callable[[], str]:
    """A function that raises ``exc`` ``failures`` times, then returns "ok"."""
    calls = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise exc or ConnectionError(f"attempt {len(calls)}")
        return "ok"

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def no_jitter(base: float = 0.1) -> ExponentialBackoff:
    return ExponentialBackoff(base=base, jitter="none")


def test_retries_matching_exception_until_success(clock: ManualClock) -> None:
    """A retryable exception is retried with the backoff's delays until the call succeeds."""
    retry = Retry(max_attempts=3, backoff=no_jitter(), retry_on=ConnectionError, clock=clock)
    assert retry.call(flaky(2)) == "ok"
    assert clock.sleeps == pytest.approx([0.1, 0.2])


def test_non_matching_exception_propagates_at_once(clock: ManualClock) -> None:
    """An exception outside retry_on is raised unchanged after one attempt."""
    fn = flaky(5, KeyError("k"))
    with pytest.raises(KeyError):
        Retry(retry_on=ConnectionError, clock=clock).call(fn)
    assert len(fn.calls) == 1  # type: ignore[attr-defined]
    assert clock.sleeps == []


def test_predicate_decides_what_is_retried(clock: ManualClock) -> None:
    """A predicate on the exception selects retryable failures."""
    retry = Retry(retry_on=lambda exc: "transient" in str(exc), clock=clock)
    assert retry.call(flaky(1, ValueError("transient glitch"))) == "ok"
    with pytest.raises(ValueError, match="permanent"):
        retry.call(flaky(1, ValueError("permanent")))


def test_retry_on_result_retries_bad_results(clock: ManualClock) -> None:
    """A result the predicate rejects is retried; the first good result is returned."""
    results = iter([None, None, 7])
    retry = Retry(max_attempts=3, retry_on_result=lambda r: r is None, clock=clock)
    assert retry.call(lambda: next(results)) == 7


def test_exhaustion_chains_the_last_exception(clock: ManualClock) -> None:
    """After max_attempts failures RetryExhaustedError carries the attempts and the cause."""
    retry = Retry(name="payments", max_attempts=3, backoff=ConstantBackoff(0), clock=clock)
    with pytest.raises(RetryExhaustedError) as caught:
        retry.call(flaky(9))
    error = caught.value
    assert (error.policy, error.attempts) == ("payments", 3)
    assert isinstance(error.__cause__, ConnectionError)
    assert error.last_exception is error.__cause__
    assert str(error.__cause__) == "attempt 3"


def test_exhaustion_on_results_has_no_cause(clock: ManualClock) -> None:
    """Retrying only on results ends in RetryExhaustedError without a last exception."""
    retry = Retry(max_attempts=2, retry_on_result=lambda r: True, clock=clock)
    with pytest.raises(RetryExhaustedError) as caught:
        retry.call(lambda: "bad")
    assert caught.value.last_exception is None and caught.value.attempts == 2


def test_zero_backoff_never_sleeps(clock: ManualClock) -> None:
    """A zero delay skips sleep entirely instead of calling sleep(0)."""
    retry = Retry(max_attempts=4, backoff=ExponentialBackoff(base=0.0), clock=clock)
    assert retry.call(flaky(3)) == "ok"
    assert clock.sleeps == []


def test_rejections_are_never_retried(clock: ManualClock) -> None:
    """CircuitOpenError is raised at once: retrying an open circuit only burns the budget."""
    fn = flaky(5, CircuitOpenError("db", 3.0))
    with pytest.raises(CircuitOpenError):
        Retry(clock=clock).call(fn)
    assert len(fn.calls) == 1  # type: ignore[attr-defined]


def test_budget_stops_retries_when_spent(clock: ManualClock) -> None:
    """With the budget empty a failing call gives up after its first attempt."""
    budget = RetryBudget(ratio=0.0, min_per_second=1.0, max_tokens=1.0, clock=clock)
    retry = Retry(max_attempts=3, backoff=ConstantBackoff(0), budget=budget, clock=clock)
    assert retry.call(flaky(1)) == "ok"  # spends the only token
    with pytest.raises(RetryExhaustedError) as caught:
        retry.call(flaky(1))
    assert caught.value.attempts == 1


def test_budget_refills_with_time(clock: ManualClock) -> None:
    """min_per_second tokens come back as time passes."""
    budget = RetryBudget(ratio=0.0, min_per_second=2.0, max_tokens=2.0, clock=clock)
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    clock.advance(0.5)
    assert [budget.try_spend() for _ in range(2)] == [True, False]


def test_budget_allows_retries_as_a_ratio_of_calls(clock: ManualClock) -> None:
    """Ten calls at a 20% ratio earn exactly two retries, and the bucket is capped."""
    budget = RetryBudget(ratio=0.2, min_per_second=0.0, max_tokens=5.0, clock=clock)
    for _ in range(10):
        budget.deposit()
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    for _ in range(1000):
        budget.deposit()
    assert budget.balance == 5.0


def test_async_retry_uses_the_injected_clock(clock: ManualClock) -> None:
    """The async path retries with awaited sleeps that advance the manual clock."""
    attempts: list[int] = []

    async def fn() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("reset")
        return "ok"

    retry = Retry(max_attempts=3, backoff=no_jitter(), clock=clock)
    assert asyncio.run(retry.call_async(fn)) == "ok"
    assert clock.sleeps == pytest.approx([0.1, 0.2])


def test_async_exhaustion_and_custom_async_sleep(clock: ManualClock) -> None:
    """The async path uses an injected async sleep and raises RetryExhaustedError at the end."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def fn() -> None:
        raise TimeoutError("slow")

    retry = Retry(max_attempts=2, backoff=no_jitter(1.0), clock=clock, async_sleep=sleep)
    with pytest.raises(RetryExhaustedError) as caught:
        asyncio.run(retry.call_async(fn))
    assert isinstance(caught.value.__cause__, TimeoutError) and waits == [1.0]


def test_testing_mode_drops_waits_and_caps_attempts(clock: ManualClock) -> None:
    """set_testing removes backoff waits and limits attempts."""
    set_testing(True)
    assert Retry(max_attempts=3, backoff=no_jitter(5.0), clock=clock).call(flaky(2)) == "ok"
    assert clock.sleeps == []
    set_testing(True, attempts=1)
    with pytest.raises(RetryExhaustedError):
        Retry(max_attempts=3, clock=clock).call(flaky(1))


@pytest.mark.parametrize("attempts", [0, 101])
def test_attempts_are_bounded(attempts: int) -> None:
    """max_attempts outside [1, 100] is refused: there is no infinite retry."""
    with pytest.raises(ValueError):
        Retry(max_attempts=attempts)


def test_kwargs_pass_through(clock: ManualClock) -> None:
    """Positional and keyword arguments, even one named fn, reach the function."""

    def fn(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return args, kwargs

    assert Retry(clock=clock).call(fn, 1, fn=2) == ((1,), {"fn": 2})


def test_retry_counts_retries_and_healed_calls() -> None:
    """Retries and calls that succeeded after a failure are counted for metrics."""
    from flask_resilience._foundation.clock import ManualClock

    clock = ManualClock()
    retry = Retry(max_attempts=3, clock=clock, backoff=ConstantBackoff(0.0))
    failures = iter([True, False, True, True, True])

    def flaky() -> str:
        if next(failures):
            raise ConnectionError("reset")
        return "ok"

    assert retry.call(flaky) == "ok"
    with pytest.raises(RetryExhaustedError):
        retry.call(flaky)
    assert retry.call(lambda: "fine") == "fine"
    assert (retry.retries, retry.healed) == (3, 1)
