"""The adaptive healer (bandit, rules, backoff tuning) and the HealingRetry layer."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from typing import Any, cast

import pytest

from flask_resilience._foundation.clock import ManualClock
from flask_resilience.errors import CircuitOpenError, RetryExhaustedError
from flask_resilience.resilient import CircuitBreaker, Fallback, LastGoodValue, Policy, Retry
from flask_resilience.resilient.healer import (
    FAIL_FAST,
    FALLBACK,
    RETRY,
    RETRY_FAST,
    BackoffTuned,
    FailureSignature,
    Healer,
    HealingDecision,
    HealingEvent,
    RuleLearned,
    http_status_of,
    signature_of,
)
from flask_resilience.resilient.healing_retry import HealingRetry

SIG = FailureSignature("db", "ConnectionError")


class HTTPFailure(Exception):
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(f"HTTP {status_code}")


def make_healer(**overrides: Any) -> Healer:
    options: dict[str, Any] = {
        "exploration_rate": 0.0,
        "learning_rate_alpha": 0.2,
        "learning_threshold": 5,
        "strategy_evolution_interval": 1000,
        "base_backoff": 0.1,
        "rng": random.Random(7),
        "clock": ManualClock(),
    }
    options.update(overrides)
    return Healer(**options)


def failing(times: int, exc: Callable[[], Exception] = lambda: ConnectionError("reset")) -> Any:
    calls: list[tuple[Any, ...]] = []

    def fn(*args: Any) -> str:
        calls.append(args)
        if len(calls) <= times:
            raise exc()
        return "ok"

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


# --- signatures -------------------------------------------------------------------------------


def test_http_status_is_read_from_the_usual_attributes() -> None:
    """status_code, status, response.status_code and code are read when they hold an HTTP int."""

    class Status(Exception):
        status = 502

    class Response:
        status_code = 504

    class WithResponse(Exception):
        response = Response()

    class Code(Exception):
        code = 429

    class Errno(Exception):
        code = 2  # an errno, not an HTTP status

    assert http_status_of(HTTPFailure(503)) == 503
    assert http_status_of(Status()) == 502
    assert http_status_of(WithResponse()) == 504
    assert http_status_of(Code()) == 429
    assert http_status_of(Errno()) is None


def test_signature_names_the_exception_and_status() -> None:
    """A signature is (policy, qualified exception type, HTTP status)."""
    sig = signature_of("pay", HTTPFailure(503))
    assert sig == FailureSignature("pay", f"{__name__}.HTTPFailure", 503)
    assert sig.key == f"{__name__}.HTTPFailure@503"
    assert signature_of("db", TimeoutError()).key == "TimeoutError"


def test_four_hundreds_are_not_retryable_except_transient_ones() -> None:
    """404 is not worth retrying; 408, 429 and 5xx are."""
    assert not FailureSignature("p", "E", 404).retryable
    assert FailureSignature("p", "E", 429).retryable
    assert FailureSignature("p", "E", 503).retryable
    assert FailureSignature("p", "E").retryable


# --- the bandit ---------------------------------------------------------------------------------


def test_untried_strategies_are_optimistic_and_ties_follow_the_safe_order() -> None:
    """A fresh healer retries first, and tries retry_fast once plain retry has failed."""
    healer = make_healer()
    assert healer.decide(SIG, (RETRY, RETRY_FAST)).strategy == RETRY
    healer.record(SIG, RETRY, False)
    assert healer.decide(SIG, (RETRY, RETRY_FAST)).strategy == RETRY_FAST
    score, observations = healer.score(SIG, RETRY)
    assert score == pytest.approx(0.8) and observations == 1


def test_epsilon_greedy_picks_the_best_strategy_most_of_the_time() -> None:
    """With exploration 0.1 over two strategies the best one is chosen about 95% of the time."""
    healer = make_healer(exploration_rate=0.1, rng=random.Random(3))
    for _ in range(20):
        healer.record(SIG, RETRY_FAST, True)
        healer.record(SIG, RETRY, False)
    decisions = [healer.decide(SIG, (RETRY, RETRY_FAST)) for _ in range(4000)]
    best = sum(d.strategy == RETRY_FAST for d in decisions) / len(decisions)
    assert 0.93 <= best <= 0.97
    assert all(d.strategy == RETRY_FAST for d in decisions if not d.explored)


@pytest.mark.parametrize("rate", [0.03, 0.3])
def test_exploration_rate_is_respected(rate: float) -> None:
    """The share of explored decisions matches exploration_rate within sampling error."""
    healer = make_healer(exploration_rate=rate, rng=random.Random(11))
    decisions = [healer.decide(SIG, (RETRY, RETRY_FAST, FALLBACK)) for _ in range(5000)]
    explored = sum(d.explored for d in decisions) / len(decisions)
    assert explored == pytest.approx(rate, abs=0.02)


def test_a_single_allowed_strategy_is_never_an_exploration() -> None:
    """With one choice there is nothing to explore."""
    healer = make_healer(exploration_rate=1.0)
    assert healer.decide(SIG, (FAIL_FAST,)) == HealingDecision("db", SIG, FAIL_FAST, False, 0.0)


def test_a_rule_is_learned_after_learning_threshold_observations() -> None:
    """The best pair becomes a learned rule exactly when it has learning_threshold observations."""
    events: list[HealingEvent] = []
    healer = make_healer(learning_threshold=5, listeners=[events.append])
    for _ in range(4):
        healer.record(SIG, RETRY, True)
    assert healer.learned_rules() == []
    healer.record(SIG, RETRY, True)
    [rule] = healer.learned_rules()
    assert (rule.strategy, rule.observations, rule.base_backoff_ms) == (RETRY, 5, 100)
    assert [type(e) for e in events] == [RuleLearned]
    assert healer.stats().learned_rules == 1


def test_rules_are_re_ranked_at_the_evolution_interval_with_hysteresis() -> None:
    """A rule is replaced only at evolution time, and only by a clearly better strategy."""
    events: list[HealingEvent] = []
    healer = make_healer(
        learning_threshold=3, strategy_evolution_interval=20, listeners=[events.append]
    )
    for _ in range(3):
        healer.record(SIG, RETRY, True)  # rule: retry (3 records)
    for _ in range(3):
        healer.record(SIG, RETRY, False)
    for _ in range(5):
        healer.record(SIG, RETRY_FAST, True)
    assert healer.learned_rules()[0].strategy == RETRY  # 11 records: not yet evolved
    for _ in range(9):
        healer.record(SIG, RETRY_FAST, True)
    assert healer.learned_rules()[0].strategy == RETRY_FAST
    changes = [e for e in events if isinstance(e, RuleLearned)]
    assert [(e.strategy, e.previous) for e in changes] == [(RETRY, None), (RETRY_FAST, RETRY)]


def test_backoff_grows_when_short_waits_fail_and_long_ones_succeed() -> None:
    """Short waits failing while long ones heal grow the base backoff by 1.5 at evolution."""
    events: list[HealingEvent] = []
    healer = make_healer(strategy_evolution_interval=10, listeners=[events.append])
    for _ in range(5):
        healer.record(SIG, RETRY, False, delay=0.08, retry_number=1)
        healer.record(SIG, RETRY, True, delay=0.15, retry_number=2)
    assert healer.base_backoff_for(SIG) == pytest.approx(0.15)
    [tuned] = [e for e in events if isinstance(e, BackoffTuned)]
    assert tuned.previous_ms == pytest.approx(100)
    assert tuned.base_backoff_ms == pytest.approx(150)


def test_backoff_shrinks_when_the_first_retry_keeps_succeeding() -> None:
    """A first retry that heals at least 80% of the time shrinks the base backoff by 0.75."""
    healer = make_healer(strategy_evolution_interval=10)
    for _ in range(10):
        healer.record(SIG, RETRY, True, delay=0.07, retry_number=1)
    assert healer.base_backoff_for(SIG) == pytest.approx(0.075)


def test_backoff_tuning_is_bounded() -> None:
    """Repeated growth stops at the upper bound (8x the base by default)."""
    healer = make_healer(strategy_evolution_interval=6)
    for _ in range(40):
        base = healer.base_backoff_for(SIG)
        for _ in range(3):
            healer.record(SIG, RETRY, False, delay=base / 2, retry_number=1)
            healer.record(SIG, RETRY, True, delay=base * 1.5, retry_number=2)
    assert healer.base_backoff_for(SIG) == pytest.approx(0.8)


def test_retry_delays_grow_and_retry_fast_stays_short() -> None:
    """Retry waits grow exponentially (equal jitter); retry_fast waits about a tenth of base."""
    healer = make_healer()
    first = healer.decide(SIG, (RETRY,), retry_number=1).delay
    third = healer.decide(SIG, (RETRY,), retry_number=3).delay
    fast = healer.decide(SIG, (RETRY_FAST,), retry_number=1).delay
    assert 0.05 <= first <= 0.1
    assert 0.2 <= third <= 0.4
    assert 0.005 <= fast <= 0.01


def test_a_broken_listener_does_not_fail_the_healer(caplog: pytest.LogCaptureFixture) -> None:
    """A listener that raises is logged and skipped."""

    def broken(event: HealingEvent) -> None:
        raise RuntimeError("metrics down")

    healer = make_healer(listeners=[broken])
    assert healer.decide(SIG, (RETRY,)).strategy == RETRY
    assert "healing listener" in caplog.text


def test_concurrent_records_lose_no_observation() -> None:
    """Eight threads recording at once leave exact observation counts (the lock works)."""
    healer = make_healer(strategy_evolution_interval=7)

    def work() -> None:
        for _ in range(500):
            healer.decide(SIG, (RETRY, RETRY_FAST))
            healer.record(SIG, RETRY, True, delay=0.05, retry_number=1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert healer.score(SIG, RETRY)[1] == 4000


# --- HealingRetry -------------------------------------------------------------------------------


def test_success_path_touches_neither_healer_nor_clock(clock: ManualClock) -> None:
    """A first-try success makes no decision, no sleep, and counts one success."""
    events: list[HealingEvent] = []
    healer = make_healer(listeners=[events.append])
    layer = HealingRetry(name="db", healer=healer, clock=clock)
    assert layer.call(lambda x: x + 1, 1) == 2
    assert (events, clock.sleeps) == ([], [])
    assert healer.stats().calls == 1 and healer.stats().healed == 0


def test_a_failure_is_healed_by_a_retry_with_backoff(clock: ManualClock) -> None:
    """One failure then success: one backoff sleep on the clock, and the call counts as healed."""
    healer = make_healer()
    fn = failing(1)
    layer = HealingRetry(name="db", healer=healer, clock=clock)
    assert layer.call(fn) == "ok"
    assert len(clock.sleeps) == 1 and 0.05 <= clock.sleeps[0] <= 0.1
    assert healer.stats().healed == 1 and healer.stats().successes == 1
    assert (layer.retries, layer.healed) == (1, 1)  # what PolicyRuntime.retry_counts reads
    assert healer.score(SIG, RETRY) == (1.0, 1)


def test_zero_backoff_never_sleeps(clock: ManualClock) -> None:
    """With base_backoff 0 retries happen at once, without calling sleep."""
    layer = HealingRetry(name="db", healer=make_healer(base_backoff=0.0), clock=clock)
    assert layer.call(failing(2)) == "ok"
    assert clock.sleeps == []


def test_exhausted_attempts_raise_with_the_last_exception_chained(clock: ManualClock) -> None:
    """After max_attempts failed attempts RetryExhaustedError chains the last exception."""
    healer = make_healer()
    fn = failing(10)
    with pytest.raises(RetryExhaustedError) as info:
        HealingRetry(name="db", healer=healer, max_attempts=3, clock=clock).call(fn)
    assert info.value.attempts == 3 and isinstance(info.value.__cause__, ConnectionError)
    assert len(fn.calls) == 3
    assert healer.stats().failures == 1


def test_fail_fast_never_retries_a_client_error(clock: ManualClock) -> None:
    """A 404 is re-raised at once: one call, no sleep, strategy fail_fast."""
    events: list[HealingEvent] = []
    fn = failing(5, lambda: HTTPFailure(404))
    layer = HealingRetry(name="api", healer=make_healer(listeners=[events.append]), clock=clock)
    with pytest.raises(HTTPFailure):
        layer.call(fn)
    assert len(fn.calls) == 1 and clock.sleeps == []
    assert [e.strategy for e in events if isinstance(e, HealingDecision)] == [FAIL_FAST]


def test_exceptions_outside_retry_on_propagate_untouched(clock: ManualClock) -> None:
    """An exception retry_on does not match is raised without asking the healer."""
    events: list[HealingEvent] = []
    healer = make_healer(listeners=[events.append])
    layer = HealingRetry(name="db", healer=healer, retry_on=ConnectionError, clock=clock)
    with pytest.raises(KeyError):
        layer.call(failing(1, lambda: KeyError("k")))
    assert events == []


def test_alternate_is_used_when_registered(clock: ManualClock) -> None:
    """When the primary keeps failing the healer tries the alternate, with the user's arguments."""
    replica: list[tuple[Any, ...]] = []

    def alternate(*args: Any) -> str:
        replica.append(args)
        return "from replica"

    primary = failing(100)
    policy = Policy(
        "db",
        retry=cast(
            Retry,
            HealingRetry(
                name="db",
                healer=make_healer(),
                max_attempts=5,
                alternate=alternate,
                clock=clock,
                inner_layers=1,
            ),
        ),
        breaker=CircuitBreaker(name="db", failure_threshold=50, clock=clock),
    )
    assert policy.call(primary, "user-1", 7) == "from replica"
    assert replica == [("user-1", 7)]
    assert (
        len(primary.calls) == 3
    )  # first call, retry, retry_fast (both optimistic), then ALTERNATE


def test_fallback_answers_a_client_error_with_the_users_arguments(clock: ManualClock) -> None:
    """With a Fallback configured, a 404 is answered by it (it ranks before fail_fast)."""
    fallback = Fallback(function=lambda exc, sku: f"default for {sku} ({exc.status_code})")
    layer = HealingRetry(name="api", healer=make_healer(), fallback=fallback, clock=clock)
    assert layer.call(failing(5, lambda: HTTPFailure(404)), "A-1") == "default for A-1 (404)"


def test_fallback_answers_when_attempts_run_out(clock: ManualClock) -> None:
    """A plain fallback callable answers once every attempt failed."""
    healer = make_healer(exploration_rate=0.0)
    for _ in range(3):  # teach the healer that retrying works, so it prefers it to the fallback
        healer.record(signature_of("db", ConnectionError()), RETRY, True)
    layer = HealingRetry(
        name="db",
        healer=healer,
        max_attempts=2,
        fallback=lambda exc, *args: "cached",
        clock=clock,
    )
    fn = failing(10)
    assert layer.call(fn) == "cached"
    assert len(fn.calls) == 2 and healer.stats().healed == 1


def test_rejections_are_not_retried_but_fallback_answers(clock: ManualClock) -> None:
    """An open breaker's rejection is never retried; the fallback answers without a call."""
    breaker = CircuitBreaker(name="db", failure_threshold=1, clock=clock)
    breaker.trip()
    fn = failing(0)

    def build(fallback: Any) -> Policy:
        layer = HealingRetry(
            name="db", healer=make_healer(), fallback=fallback, clock=clock, inner_layers=1
        )
        return Policy("db", retry=cast(Retry, layer), breaker=breaker)

    with pytest.raises(CircuitOpenError):
        build(None).call(fn)
    assert build(Fallback(value="stale")).call(fn) == "stale"
    assert fn.calls == [] and clock.sleeps == []


def test_last_good_value_is_remembered_and_served(clock: ManualClock) -> None:
    """LastGoodValue learns from successes and answers once the dependency is down."""
    last = LastGoodValue[str]()
    layer = HealingRetry(
        name="db", healer=make_healer(), max_attempts=1, fallback=last, clock=clock
    )
    assert layer.call(lambda: "fresh") == "fresh"
    assert layer.call(failing(5)) == "fresh"


def test_no_healer_lock_is_held_while_user_code_runs(clock: ManualClock) -> None:
    """The alternate can use the healer while the layer is healing (no lock held, no deadlock)."""
    healer = make_healer()
    for strategy in (RETRY, RETRY_FAST):
        healer.record(signature_of("db", ConnectionError()), strategy, False)

    def alternate() -> int:
        return healer.stats().calls  # would deadlock if the healer's lock were held

    layer = HealingRetry(name="db", healer=healer, alternate=alternate, clock=clock)
    assert layer.call(failing(10)) == 0


def test_async_calls_heal_with_async_alternate_and_sleep(clock: ManualClock) -> None:
    """The async twin retries with the async sleep and awaits an async alternate."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    attempts: list[int] = []

    async def primary(x: int) -> int:
        attempts.append(x)
        raise ConnectionError("down")

    async def alternate(x: int) -> int:
        return x * 10

    layer = HealingRetry(
        name="db",
        healer=make_healer(),
        max_attempts=4,
        alternate=alternate,
        clock=clock,
        async_sleep=sleep,
    )
    assert asyncio.run(layer.call_async(primary, 4)) == 40
    assert attempts == [4, 4, 4] and len(waits) == 2
    assert asyncio.run(layer.call_async(_async_value, 5)) == 5


async def _async_value(x: int) -> int:
    return x


def test_async_fallback_may_be_async(clock: ManualClock) -> None:
    """An async fallback function is awaited on the async path."""

    async def fallback(exc: Exception, x: int) -> str:
        return f"fallback {x}"

    async def gone(x: int) -> str:
        raise HTTPFailure(410)

    layer = HealingRetry(name="api", healer=make_healer(), fallback=fallback, clock=clock)
    assert asyncio.run(layer.call_async(gone, 3)) == "fallback 3"
