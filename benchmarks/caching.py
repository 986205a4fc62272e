"""Cache hits of ``res.cache.cached`` against Flask-Caching, hit ratio, and stampede, in one run.

Run: ``python benchmarks/caching.py [--rounds 30] [--requests 200]`` (needs Redis on
``REDIS_URL``, default ``redis://127.0.0.1:6379/12``; db 12 is flushed first).

1. **Per-request time** with the Flask test client. Every route lives in *one* app that has the
   extension installed, so request ids, metrics and every other hook cost the same for all rows;
   only the caching differs. Rows: a bare view, a view doing 2 ms of work uncached, the same
   cached by Flask-Caching's ``@cache.cached`` on ``SimpleCache`` and on ``RedisCache``, and by
   ``@res.cache.cached`` with Redis only (L2) and with the in-process L1 in front. Rounds are
   interleaved and shuffled, gc is off, and the table shows medians of all samples. Redis
   commands per request come from ``INFO commandstats``.
2. **Hit ratio** on a Zipf(1.1) workload over 1,000 keys and 100,000 requests, each key's TTL
   taken from a preset (``RESILIENCE_CACHE_TTLS``); a simulated clock advances 10 ms per request.
3. **Stampede**: 50 threads miss one key at once (5 trials, plus 2 app instances x 25 threads);
   the function sleeps 50 ms; the number of computations per stampede is counted.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import statistics
import sys
import threading
import time
from importlib.metadata import version
from typing import Any

import redis
from flask import Flask
from flask_caching import Cache

from flask_resilience import Resilience

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
TTLS = {"quiz:list": 3600, "quiz": 600, "user": 120}
res = Resilience()


def db_work() -> str:
    time.sleep(0.002)
    return '{"quiz": 1, "questions": [1, 2, 3]}'


def build_app(l1_size: int) -> Flask:
    app = Flask(f"bench_l1_{l1_size}")
    app.config.update(
        RESILIENCE_DATABASE_URL="sqlite://",
        RESILIENCE_REDIS_URL=REDIS_URL,
        RESILIENCE_CACHE_L1_SIZE=l1_size,
        RESILIENCE_CACHE_L1_TTL=60,
        RESILIENCE_CACHE_TTLS=TTLS,
        CACHE_KEY_PREFIX=f"bench{l1_size}:",
        RATELIMIT_ENABLED=False,  # Flask-Limiter's own switch: time the cache, not the limiter
    )
    res.init_app(app)
    return app


def add_routes(app: Flask, with_references: bool) -> dict[str, str]:
    """Register the timed views; returns row name -> path."""

    @app.get("/ours/<int:quiz_id>")
    @res.cache.cached(ttl="quiz", key="page:quiz:{quiz_id}", tags=["quiz:{quiz_id}"])
    def ours(quiz_id: int) -> str:
        return db_work()

    label = "L1 + L2" if app.name.endswith("100") else "L2 (Redis) only"
    rows = {f"res.cache.cached, {label}": "/ours/1"}
    if not with_references:
        return rows
    simple = Cache(app, config={"CACHE_TYPE": "SimpleCache"}, with_jinja2_ext=False)
    redis_cache = Cache(
        app,
        config={
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": "fc:",
        },
        with_jinja2_ext=False,
    )

    @app.get("/bare")
    def bare() -> str:
        return "ok"

    @app.get("/uncached")
    def uncached() -> str:
        return db_work()

    @app.get("/simple")
    @simple.cached(timeout=600)
    def simple_view() -> str:
        return db_work()

    @app.get("/redis")
    @redis_cache.cached(timeout=600)
    def redis_view() -> str:
        return db_work()

    rows.update(
        {
            "bare view (no work, no cache)": "/bare",
            "2 ms view, uncached": "/uncached",
            "Flask-Caching SimpleCache hit": "/simple",
            "Flask-Caching RedisCache hit": "/redis",
        }
    )
    return rows


def commands_per_request(client: Any, path: str, server: redis.Redis) -> float:
    def total() -> int:
        stats = server.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")

    before = total()
    for _ in range(100):
        client.get(path)
    return (total() - before) / 100


def time_requests(args: argparse.Namespace, server: redis.Redis) -> None:
    l2_app, l1_app = build_app(0), build_app(100)
    targets: dict[str, tuple[Any, str]] = {}
    for app, refs in ((l2_app, True), (l1_app, False)):
        client = app.test_client()
        for name, path in add_routes(app, refs).items():
            targets[name] = (client, path)
    for client, path in targets.values():  # warm: fill every cache
        assert client.get(path).status_code == 200
    samples: dict[str, list[float]] = {name: [] for name in targets}
    gc.disable()
    try:
        for _ in range(args.rounds):
            order = list(targets)
            random.shuffle(order)
            for name in order:
                client, path = targets[name]
                count = args.requests // 10 if "uncached" in name else args.requests
                for _ in range(count):
                    started = time.perf_counter_ns()
                    client.get(path)
                    samples[name].append((time.perf_counter_ns() - started) / 1000)
    finally:
        gc.enable()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    simple = medians["Flask-Caching SimpleCache hit"]
    print(f"\n## Per-request time ({args.rounds} rounds, median of all samples)\n")
    print("| view | median µs/req | x SimpleCache hit | Redis commands / req |")
    print("|---|---:|---:|---:|")
    for name in sorted(medians, key=medians.__getitem__):
        client, path = targets[name]
        cmds = commands_per_request(client, path, server) if "uncached" not in name else 0.0
        print(f"| {name} | {medians[name]:,.0f} | {medians[name] / simple:.2f} | {cmds:.2f} |")
    ratio = medians["res.cache.cached, L1 + L2"] / simple
    print(
        f"\nL1 + L2 hit / SimpleCache hit = {ratio:.2f} (target <= 1.30): "
        f"{'PASS' if ratio <= 1.3 else 'FAIL'}"
    )
    for app in (l2_app, l1_app):
        res.close(app)


def zipf_hit_ratio(server: redis.Redis, n_keys: int = 1000, n_requests: int = 100_000) -> None:
    app = build_app(0)
    runtime = app.extensions["resilience"].capabilities["cache"]
    now = [1_000_000.0]
    runtime.clock = lambda: now[0]
    rng = random.Random(42)
    weights = list(itertools.accumulate(1 / (k**1.1) for k in range(1, n_keys + 1)))
    keys = rng.choices(range(n_keys), cum_weights=weights, k=n_requests)
    presets = list(TTLS)
    computed = 0

    def compute() -> int:
        nonlocal computed
        computed += 1
        return computed

    started = time.perf_counter()
    with app.app_context():
        for key in keys:
            preset = presets[key % len(presets)]
            res.cache.get_or_set(f"{preset}:{key}", compute, preset, name=preset)
            now[0] += 0.01
    elapsed = time.perf_counter() - started
    counts = runtime.counters.snapshot()
    hits = sum(v for (_, result), v in counts.items() if result in ("hit", "stale"))
    ratio = hits / n_requests
    print(f"\n## Hit ratio: Zipf(1.1), {n_keys:,} keys, {n_requests:,} requests, TTLs {TTLS}\n")
    print(
        f"simulated span {n_requests * 0.01:,.0f} s; computations {computed:,}; "
        f"by result {dict(sorted(counts.items()))}"
    )
    print(
        f"hit ratio {ratio:.1%} (target >= 90%): {'PASS' if ratio >= 0.9 else 'FAIL'}; "
        f"{elapsed / n_requests * 1e6:.0f} µs per get_or_set on Redis"
    )
    res.close(app)


def stampede(apps: list[Flask], threads_per_app: int, key: str) -> int:
    calls = []
    lock = threading.Lock()

    def compute() -> str:
        with lock:
            calls.append(1)
        time.sleep(0.05)
        return "value"

    barrier = threading.Barrier(len(apps) * threads_per_app)

    def worker(app: Flask) -> None:
        with app.app_context():
            barrier.wait()
            assert res.cache.get_or_set(key, compute, 60) == "value"

    threads = [
        threading.Thread(target=worker, args=(a,)) for a in apps for _ in range(threads_per_app)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(calls)


def stampedes() -> None:
    one, two = build_app(0), build_app(0)
    print("\n## Stampede: 50 concurrent misses on one key, compute takes 50 ms\n")
    single = [stampede([one], 50, f"stampede:one:{i}") for i in range(5)]
    double = [stampede([one, two], 25, f"stampede:two:{i}") for i in range(5)]
    print(f"one instance x 50 threads: computations per stampede {single}")
    print(f"two instances x 25 threads: computations per stampede {double}")
    ok = all(n == 1 for n in single + double)
    print(f"exactly one computation per stampede: {'PASS' if ok else 'FAIL'}")
    for app in (one, two):
        res.close(app)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    server = redis.Redis.from_url(REDIS_URL)
    server.flushdb()
    server.config_resetstat()
    print(
        f"Python {sys.version.split()[0]}, Flask {version('flask')}, Flask-Caching "
        f"{version('flask-caching')}, redis-py {version('redis')}, Redis "
        f"{server.info('server')['redis_version']} at {REDIS_URL}"
    )
    time_requests(args, server)
    zipf_hit_ratio(server)
    stampedes()
    server.flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
