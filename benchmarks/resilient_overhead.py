"""Per-call overhead of ``@resilient`` against tenacity and pybreaker, measured side by side.

Run: ``python benchmarks/resilient_overhead.py [--rounds 21] [--sample-ms 40]``

Every case runs in the same process, interleaved: each round shuffles the cases and takes one
sample of each (a loop sized to about ``--sample-ms``, gc off); the table shows the median
ns/call over the rounds with p25-p75. Three groups:

- ``success``: the wrapped function returns at once; baseline is a bare call.
- ``failure``: each outer call is one failed attempt plus one successful attempt, zero backoff;
  baseline is a bare ``try/except`` plus a second call.
- ``redis success``: the success path with breaker state in a real Redis; baseline a bare call,
  with one redis-py ``GET`` as the cost of a single round trip.

The last column is how many times cheaper a row is than the group's reference: tenacity +
pybreaker stacked (success), tenacity + pybreaker stacked with ``wait_none`` (failure), pybreaker
with ``CircuitRedisStorage`` (redis success: needs a Redis at ``REDIS_URL``, whose db 14 is
flushed). To add rows, write another ``*_cases()`` function returning ``Case`` objects and
append it to ``CASE_BUILDERS``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import pybreaker
import redis
import tenacity

from flask_resilience.resilient import PolicyRegistry, resilient
from flask_resilience.resilient.redis_store import redis_store_factory


@dataclass(frozen=True, slots=True)
class Case:
    """One row: ``run()`` performs exactly one outer call."""

    group: str
    name: str
    run: Callable[[], object]
    baseline: bool = False
    reference: bool = False
    context: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext
    """Entered around each sample (an app context for the app-bound rows), not each call."""


def ok() -> int:
    return 1


class Alternating:
    """Fails on odd calls and succeeds on even ones: one outer call = one failure + one success."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls & 1:
            raise ConnectionError("transient")
        return 1


def no_sleep(seconds: float) -> None:
    return None


def success_cases() -> list[Case]:
    registry = PolicyRegistry()
    ours = resilient("bench-success", registry=registry, max_attempts=3)(ok)
    tenacity_retry = tenacity.retry(
        stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential()
    )
    breaker = pybreaker.CircuitBreaker()
    stacked_breaker = pybreaker.CircuitBreaker()
    stacked = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential())(
        stacked_breaker(ok)
    )
    return [
        Case("success", "bare call", ok, baseline=True),
        Case("success", "@resilient retry+breaker (local state)", ours),
        app_bound_case("@resilient named, in an app (retry+breaker+metrics)", metrics=True),
        app_bound_case("@resilient named, in an app, metrics off", metrics=False),
        Case(
            "success",
            "tenacity @retry(stop_after_attempt(3), wait_exponential())",
            tenacity_retry(ok),
        ),
        Case("success", "pybreaker CircuitBreaker (memory)", breaker(ok)),
        Case("success", "tenacity + pybreaker stacked", stacked, reference=True),
    ]


def app_bound_case(name: str, *, metrics: bool) -> Case:
    """What users write: ``@resilient("name")`` resolved against an app (embedded mode), with the
    per-app settings lookup and, if on, the metrics layer. Its app context is pushed around each
    sample, as it is around a request."""
    import logging

    from flask import Flask

    from flask_resilience import Resilience

    logging.getLogger("flask_resilience").setLevel(logging.ERROR)
    app = Flask(f"bench-metrics-{metrics}")
    app.config.update(
        RESILIENCE_DATABASE_URL="sqlite://",
        RESILIENCE_ENV="production",
        RESILIENCE_METRICS_ENABLED=metrics,
    )
    Resilience(app)
    return Case("success", name, resilient("bench-named")(ok), context=app.app_context)


def failure_cases() -> list[Case]:
    bare_fn = Alternating()

    def bare() -> int:
        try:
            return bare_fn()
        except ConnectionError:
            return bare_fn()

    # Consecutive-failure rule like pybreaker's fail_max=5, so alternating calls never trip it.
    ours = resilient(
        "bench-failure",
        registry=PolicyRegistry(),
        max_attempts=3,
        backoff_base=0.0,
        failure_threshold=5,
        failure_rate_threshold=None,
    )(Alternating())

    def tenacity_none(sleep: Callable[[float], None] = tenacity.nap.sleep) -> Callable[[], int]:
        stop, wait = tenacity.stop_after_attempt(3), tenacity.wait_none()
        return tenacity.retry(stop=stop, wait=wait, sleep=sleep)(Alternating())

    stacked = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none())(
        pybreaker.CircuitBreaker()(Alternating())
    )
    return [
        Case("failure", "bare try/except + second call", bare, baseline=True),
        Case("failure", "@resilient retry+breaker, zero backoff", ours),
        Case("failure", "tenacity wait_none(), sleep= no-op", tenacity_none(no_sleep)),
        Case("failure", "tenacity wait_none() (default sleep)", tenacity_none()),
        Case("failure", "tenacity(wait_none) + pybreaker stacked", stacked, reference=True),
    ]


REDIS_URL = "redis://127.0.0.1:6379/14"
"""A real Redis on loopback; db 14 is flushed when the Redis rows are built."""


def redis_success_cases() -> list[Case]:
    """Success path with breaker state in Redis: ours (cached, batched) against pybreaker's."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    factory = redis_store_factory(REDIS_URL)  # defaults: 100 ms / 100 calls, 50 ms state TTL
    ours = resilient(
        "bench-redis", registry=PolicyRegistry(), max_attempts=3, store_factory=factory
    )
    # A time window needs every success (the rate's denominator): one flush per 100 calls.
    ours_time = resilient(
        "bench-redis-time",
        registry=PolicyRegistry(),
        max_attempts=3,
        window="time",
        window_size=10.0,
        store_factory=factory,
    )
    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace="bench")
    theirs = pybreaker.CircuitBreaker(state_storage=storage)
    client.set("bench:key", "1")
    return [
        Case("redis success", "bare call (baseline, redis group)", ok, baseline=True),
        Case("redis success", "@resilient retry+breaker (Redis state, count window)", ours(ok)),
        Case("redis success", "@resilient retry+breaker (Redis state, time window)", ours_time(ok)),
        Case("redis success", "redis-py GET (one round trip)", lambda: client.get("bench:key")),
        Case("redis success", "pybreaker + CircuitRedisStorage", theirs(ok), reference=True),
    ]


CASE_BUILDERS: list[Callable[[], list[Case]]] = [success_cases, failure_cases, redis_success_cases]


def sample(run: Callable[[], object], number: int) -> float:
    """ns per call of ``number`` calls of ``run``."""
    loop = range(number)
    start = time.perf_counter_ns()
    for _ in loop:
        run()
    return (time.perf_counter_ns() - start) / number


def calibrate(run: Callable[[], object], sample_ms: float) -> int:
    """How many calls fill about ``sample_ms`` milliseconds."""
    for _ in range(200):  # warm up caches and lazy state
        run()
    number = 1
    while True:
        elapsed_ms = sample(run, number) * number / 1e6
        if elapsed_ms >= sample_ms / 10 or number >= 10_000_000:
            return max(1, int(number * sample_ms / max(elapsed_ms, 1e-6)))
        number *= 10


def measure(cases: list[Case], rounds: int, sample_ms: float) -> dict[str, list[float]]:
    numbers = {}
    for case in cases:
        with case.context():
            numbers[case.name] = calibrate(case.run, sample_ms)
    results: dict[str, list[float]] = {case.name: [] for case in cases}
    order = list(cases)
    gc.disable()
    try:
        for _ in range(rounds):
            random.shuffle(order)
            for case in order:
                with case.context():
                    results[case.name].append(sample(case.run, numbers[case.name]))
    finally:
        gc.enable()
    return results


def report(cases: list[Case], results: dict[str, list[float]]) -> None:
    for group in dict.fromkeys(case.group for case in cases):
        rows = [case for case in cases if case.group == group]
        median = {case.name: statistics.median(results[case.name]) for case in rows}
        baseline = next(median[c.name] for c in rows if c.baseline)
        reference = next(median[c.name] for c in rows if c.reference)
        print(f"\n{group} path (reference: {next(c.name for c in rows if c.reference)})")
        print(
            f"| {'case':<62} | {'median ns/call':>14} | {'p25-p75':>17} | {'x baseline':>10} "
            f"| {'x cheaper than ref.':>22} |"
        )
        print(f"|{'-' * 64}|{'-' * 15}:|{'-' * 18}:|{'-' * 11}:|{'-' * 23}:|")
        for case in rows:
            q = statistics.quantiles(results[case.name], n=4)
            spread = f"{q[0]:,.0f}-{q[2]:,.0f}"
            value = median[case.name]
            print(
                f"| {case.name:<62} | {value:>14,.0f} | {spread:>17} | {value / baseline:>10.1f} "
                f"| {reference / value:>22.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--sample-ms", type=float, default=40.0)
    options = parser.parse_args()
    cases = [case for build in CASE_BUILDERS for case in build()]
    print(
        f"Python {sys.version.split()[0]} - tenacity {version('tenacity')} - "
        f"pybreaker {version('pybreaker')} - {options.rounds} rounds x ~{options.sample_ms} ms"
    )
    report(cases, measure(cases, options.rounds, options.sample_ms))


if __name__ == "__main__":
    main()
