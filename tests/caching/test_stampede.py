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


def test_waiters_give_up_after_the_lock_wait(cache_app: Callable[..., Flask]) -> None:
    """A caller waiting on a computation elsewhere computes itself after the lock wait."""
    app = cache_app(RESILIENCE_CACHE_LOCK_WAIT=0.2)
    with app.app_context():
        assert runtime(app).store.try_lock("k", 10_000)  # another process holds the lock
        started = time.monotonic()
        assert res.cache.get_or_set("k", lambda: "mine", 60) == "mine"
        assert 0.15 < time.monotonic() - started < 2


def test_a_dead_holders_lock_frees_within_one_lease(cache_app: Callable[..., Flask]) -> None:
    """A lock nobody renews (its holder crashed) lapses after the lease; a waiter takes it."""
    app = cache_app(RESILIENCE_CACHE_LOCK_TIMEOUT=0.3, RESILIENCE_CACHE_LOCK_WAIT=10)
    with app.app_context():
        assert runtime(app).store.try_lock("k", 300)  # held by a process that then died
        started = time.monotonic()
        assert res.cache.get_or_set("k", lambda: "mine", 60) == "mine"
        assert 0.2 < time.monotonic() - started < 3


def test_computation_slower_than_the_lock_timeout_runs_once(
    cache_app: Callable[..., Flask],
) -> None:
    """Lock timeout 0.5 s, a 1 s computation, 20 threads: one computation (the lock is renewed)."""
    app = cache_app(RESILIENCE_CACHE_LOCK_TIMEOUT=0.5)
    calls: list[int] = []
    results = _stampede([app], 20, _slow(calls, 1.0))
    assert len(calls) == 1
    assert results == [{"v": 1}] * 20
    assert runtime(app).locks.renewals >= 1
    with app.app_context():
        assert not res.redis.exists("resilience:cache:~lock:hot")


def test_slow_computation_across_processes_runs_once(cache_app: Callable[..., Flask]) -> None:
    """Two app instances, lock timeout 0.5 s, 1 s computation: the other instance waits too."""
    apps = [
        cache_app(RESILIENCE_CACHE_LOCK_TIMEOUT=0.5),
        cache_app(RESILIENCE_CACHE_LOCK_TIMEOUT=0.5),
    ]
    calls: list[int] = []
    results = _stampede(apps, 10, _slow(calls, 1.0))
    assert len(calls) == 1
    assert results == [{"v": 1}] * 20


def test_stale_copy_is_served_while_a_slow_recompute_outlives_the_lock(
    cache_app: Callable[..., Flask],
) -> None:
    """With a stale copy, a recompute longer than the lock timeout still runs once; others get
    the stale copy at once instead of waiting."""
    settings = {"RESILIENCE_CACHE_LOCK_TIMEOUT": 0.3, "RESILIENCE_CACHE_XFETCH_BETA": 0}
    apps = [cache_app(**settings), cache_app(**settings)]
    clocks = [Clock(), Clock()]
    for app, clock in zip(apps, clocks, strict=True):
        runtime(app).clock = clock
    with apps[0].app_context():
        res.cache.get_or_set("k", lambda: "old", 10)
    for clock in clocks:
        clock.now += 11  # expired, inside the stale grace
    calls: list[int] = []
    started = threading.Event()

    def recompute() -> str:
        calls.append(1)
        started.set()
        time.sleep(1.0)
        return "new"

    def call(app: Flask) -> object:
        with app.app_context():
            return res.cache.get_or_set("k", recompute, 10)

    first = threading.Thread(target=lambda: box.append(call(apps[0])))
    box: list[object] = []
    first.start()
    assert started.wait(10)
    deadline = time.monotonic() + 0.9
    served: list[object] = []
    while time.monotonic() < deadline:  # for longer than the lock timeout, several times over
        served.append(call(apps[len(served) % 2]))
        time.sleep(0.05)
    first.join(10)
    assert box == ["new"]
    assert len(calls) == 1
    assert len(served) > 5 and set(served) == {"old"}


def test_followers_take_over_after_the_lock_wait_without_stampeding(
    cache_app: Callable[..., Flask],
) -> None:
    """When the leader outlasts the lock wait, one follower computes and the rest share its
    value: two computations for 20 callers, not 20."""
    app = cache_app(RESILIENCE_CACHE_LOCK_WAIT=0.3)
    calls: list[float] = []
    lock = threading.Lock()
    release = threading.Event()

    def compute() -> object:
        with lock:
            calls.append(time.monotonic())
            first = len(calls) == 1
        if first:
            release.wait(10)  # the leader hangs
            return "leader"
        return "follower"

    results = _stampede_until([app], 20, compute, release)
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.25
    assert results.count("follower") == 19 and results.count("leader") == 1


def _stampede_until(
    apps: list[Flask], threads_per_app: int, fn: Callable[[], object], release: threading.Event
) -> list[object]:
    """Like _stampede, but lets the hung leader go once every other caller has its value."""
    results: list[object] = []
    done = threading.Semaphore(0)
    barrier = threading.Barrier(len(apps) * threads_per_app)

    def worker(app: Flask) -> None:
        with app.app_context():
            barrier.wait()
            results.append(res.cache.get_or_set("hot", fn, 60))
        done.release()

    threads = [
        threading.Thread(target=worker, args=(a,)) for a in apps for _ in range(threads_per_app)
    ]
    for thread in threads:
        thread.start()
    for _ in range(len(threads) - 1):
        assert done.acquire(timeout=10)
    release.set()
    for thread in threads:
        thread.join(10)
    return results


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


def test_a_value_written_between_the_miss_and_the_lock_is_not_recomputed(
    cache_app: Callable[..., Flask],
) -> None:
    """Another process stores the value and frees its lock just after our miss was read and
    just before we take the lock: we find the lock free, but look once more and use that value
    instead of computing a second time (the race behind a 2 in the two-instance stampede)."""
    ours, theirs = cache_app(), cache_app()
    store = runtime(ours).store
    real_try_lock = store.try_lock

    def lock_after_the_other_process_wrote(key: str, ttl_ms: int) -> str | None:
        with theirs.app_context():
            res.cache.set(key, "theirs", 60)  # computed, stored, unlocked elsewhere
        return real_try_lock(key, ttl_ms)

    store.try_lock = lock_after_the_other_process_wrote  # type: ignore[method-assign]
    calls: list[int] = []
    with ours.app_context():
        assert res.cache.get_or_set("raced", lambda: calls.append(1) or "ours", 60) == "theirs"
    assert calls == []
    assert not store.client.exists(store.lock_key("raced"))  # our lock was given back
