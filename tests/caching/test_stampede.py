"""Stampede protection: single-flight, distributed lock, stale-while-recompute, XFetch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask

from .conftest import Clock, res, runtime


def _stampede(apps: list[Flask], threads_per_app: int, fn: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(len(apps) * threads_per_app)
    results: list[object] = []

    def worker(app: Flask) -> None:
        with app.app_context():
            barrier.wait()
            results.append(res.cache.get_or_set("hot", fn, 60))

    threads = [
        threading.Thread(target=worker, args=(a,)) for a in apps for _ in range(threads_per_app)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _slow(calls: list[int], seconds: float = 0.2) -> Callable[[], object]:
    lock = threading.Lock()

    def compute() -> object:
        with lock:
            calls.append(1)
        time.sleep(seconds)
        return {"v": len(calls)}

    return compute


def test_fifty_threads_missing_one_key_compute_once(cache_app: Callable[..., Flask]) -> None:
    """50 concurrent misses on one key run the function exactly once; all get its value."""
    app = cache_app()
    calls: list[int] = []
    results = _stampede([app], 50, _slow(calls))
    assert len(calls) == 1
    assert results == [{"v": 1}] * 50


def test_two_processes_worth_of_threads_compute_once(cache_app: Callable[..., Flask]) -> None:
    """Two app instances (separate runtimes) missing one key meet at the Redis lock."""
    calls: list[int] = []
    results = _stampede([cache_app(), cache_app()], 25, _slow(calls))
    assert len(calls) == 1
    assert results == [{"v": 1}] * 50


def test_stale_value_is_served_while_one_caller_recomputes(cache_app: Callable[..., Flask]) -> None:
    """After expiry, within the grace period, others get the stale copy while one recomputes."""
    app = cache_app(RESILIENCE_CACHE_STALE_TTL=60, RESILIENCE_CACHE_XFETCH_BETA=0)
    clock = runtime(app).clock = Clock()
    started, release = threading.Event(), threading.Event()

    def recompute() -> str:
        started.set()
        release.wait(10)
        return "fresh"

    with app.app_context():
        res.cache.get_or_set("k", lambda: "old", 10)
    clock.now += 11
    box: list[object] = []

    def slow_caller() -> None:
        with app.app_context():
            box.append(res.cache.get_or_set("k", recompute, 10))

    thread = threading.Thread(target=slow_caller)
    thread.start()
    assert started.wait(10)
    with app.app_context():
        assert res.cache.get_or_set("k", lambda: "unexpected", 10) == "old"
    release.set()
    thread.join(10)
    assert box == ["fresh"]
    with app.app_context():
        assert res.cache.get_or_set("k", lambda: "unexpected", 10) == "fresh"
    counts = runtime(app).counters.snapshot()
    assert counts[("k", "stale")] == 1


def test_waiters_give_up_after_the_lock_timeout(cache_app: Callable[..., Flask]) -> None:
    """A caller waiting on a stuck computation elsewhere computes itself after the timeout."""
    app = cache_app(RESILIENCE_CACHE_LOCK_TIMEOUT=0.2)
    with app.app_context():
        assert runtime(app).store.try_lock("k", 10_000)  # another process holds the lock
        started = time.monotonic()
        assert res.cache.get_or_set("k", lambda: "mine", 60) == "mine"
        assert 0.15 < time.monotonic() - started < 2


def test_xfetch_recomputes_before_expiry(cache_app: Callable[..., Flask]) -> None:
    """Near expiry, XFetch triggers one early recomputation while the value is still fresh."""
    app = cache_app(RESILIENCE_CACHE_XFETCH_BETA=1.0)
    rt = runtime(app)
    clock = rt.clock = Clock()
    values = iter(["v1", "v2"])

    def compute() -> str:
        clock.now += 2  # the computation "takes" 2 s: delta for XFetch
        return next(values)

    with app.app_context():
        assert res.cache.get_or_set("k", compute, 100) == "v1"
        rt.random = lambda: 0.5  # -ln(0.5) * 2 s = 1.39 s of look-ahead
        clock.now += 99  # 1 s before expiry: inside the look-ahead window
        assert res.cache.get_or_set("k", compute, 100) == "v2"


def test_xfetch_does_not_fire_early_in_the_lifetime(cache_app: Callable[..., Flask]) -> None:
    """Far from expiry the value is served as is."""
    app = cache_app(RESILIENCE_CACHE_XFETCH_BETA=1.0)
    rt = runtime(app)
    rt.clock = Clock()
    rt.random = lambda: 0.5
    with app.app_context():
        res.cache.get_or_set("k", lambda: "v1", 100)
        assert res.cache.get_or_set("k", lambda: "v2", 100) == "v1"
