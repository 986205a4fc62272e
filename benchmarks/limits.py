"""Rate limiting: our limiter against Flask-Limiter configured by hand, in one run.

Every variant is its own Flask app serving ``/hello`` through the Flask test client. Rounds are
interleaved and shuffled so machine noise hits every variant alike; the table reports the median
of all per-request samples. Redis commands per request come from ``INFO commandstats`` deltas
(which also count the commands a Lua script runs) and round trips from ``MONITOR`` (which tells a
client's commands from a script's).

    .venv/bin/python benchmarks/limits.py            # needs Redis on 127.0.0.1:6379, uses db 13
    .venv/bin/python benchmarks/limits.py --quick    # a smoke run: 2 rounds x 20 requests

``main(argv)`` is importable: ``benchmarks/limits_cache.py`` runs it next to the caching benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and "limits" would import this
# very file instead of the limits library that Flask-Limiter needs.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import gc
import logging
import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from loguru import logger

from flask_resilience import Resilience

REDIS_URL = "redis://127.0.0.1:6379/13"
LIMIT = "100000000/minute"
ROUNDS, PER_ROUND, PROBE_REQUESTS = 30, 150, 50
QUICK_ROUNDS, QUICK_PER_ROUND = 2, 20


def hello() -> str:
    return "hi"


def bare() -> Flask:
    app = Flask("bare")
    app.add_url_rule("/hello", "hello", hello)
    return app


def ours(strategy: str | None, *, redis_url: str | None = REDIS_URL, enabled: bool = True) -> Flask:
    app = Flask(f"ours-{strategy}-{redis_url is not None}-{enabled}")
    app.config.update(
        RESILIENCE_DATABASE_URL="sqlite://",
        RESILIENCE_METRICS_ENABLED=False,
        RESILIENCE_RATELIMIT_DEFAULT=LIMIT,
        RATELIMIT_ENABLED=enabled,
    )
    if redis_url:
        app.config["RESILIENCE_REDIS_URL"] = redis_url
    if strategy:
        app.config["RESILIENCE_RATELIMIT_STRATEGY"] = strategy
    app.add_url_rule("/hello", "hello", hello)
    Resilience(app)
    return app


def by_hand(strategy: str, storage: str = REDIS_URL) -> Flask:
    app = Flask(f"hand-{strategy}-{storage[:5]}")
    app.add_url_rule("/hello", "hello", hello)
    Limiter(
        get_remote_address,
        app=app,
        default_limits=[LIMIT],
        storage_uri=storage,
        strategy=strategy,
        headers_enabled=True,
        key_prefix=f"hand-{strategy}",
    )
    return app


VARIANTS: dict[str, Callable[[], Flask]] = {
    "bare Flask view": bare,
    "extension, limiter disabled (reference)": lambda: ours(None, enabled=False),
    "ours, memory (embedded), moving-window": lambda: ours("moving-window", redis_url=None),
    "ours, Redis, fixed-window, headers on": lambda: ours("fixed-window"),
    "ours, Redis, moving-window (default), headers on": lambda: ours("moving-window"),
    "ours, Redis, sliding-window-counter, headers on": lambda: ours("sliding-window-counter"),
    "Flask-Limiter by hand, memory, fixed-window, headers on": lambda: by_hand(
        "fixed-window", "memory://"
    ),
    "Flask-Limiter by hand, Redis, fixed-window, headers on": lambda: by_hand("fixed-window"),
    "Flask-Limiter by hand, Redis, moving-window, headers on": lambda: by_hand("moving-window"),
}


def command_counts(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def redis_cost(app: Flask, probe: redis.Redis) -> tuple[float, float]:
    """(commands per request incl. those inside Lua, client round trips per request)."""
    client = app.test_client()
    seen: list[str] = []
    ready = threading.Event()

    def watch() -> None:
        with probe.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if command["command"] == "PING":  # the stop marker below
                    return
                if command.get("client_type") != "lua" and command["db"] == 13:
                    seen.append(command["command"])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    time.sleep(0.05)
    before = command_counts(probe)
    for _ in range(PROBE_REQUESTS):
        client.get("/hello")
    after = command_counts(probe)
    redis.Redis.from_url(REDIS_URL.replace("/13", "/12")).ping()
    watcher.join(5)
    commands = sum(after[k] - before.get(k, 0) for k in after if k not in ("info", "monitor"))
    return (commands - 1) / PROBE_REQUESTS, len(seen) / PROBE_REQUESTS


def measure(apps: dict[str, Flask], rounds: int, per_round: int) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {name: [] for name in apps}
    clients = {name: app.test_client() for name, app in apps.items()}
    for client in clients.values():  # warm up: imports, script loads, connections
        for _ in range(50):
            client.get("/hello")
    gc.disable()
    try:
        for _ in range(rounds):
            order = list(clients.items())
            random.shuffle(order)
            for name, client in order:
                out = samples[name]
                for _ in range(per_round):
                    start = time.perf_counter_ns()
                    client.get("/hello")
                    out.append(time.perf_counter_ns() - start)
            gc.collect()
    finally:
        gc.enable()
    return samples


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--requests", type=int, default=PER_ROUND, help="per variant and round")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_ROUNDS} rounds x {QUICK_PER_ROUND} requests (figures are noise)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests = QUICK_ROUNDS, QUICK_PER_ROUND
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the rate-limit table; ``argv`` as on the command line (default: ``sys.argv[1:]``)."""
    args = parse_args(argv)
    logging.disable(logging.WARNING)
    logger.remove()
    probe = redis.Redis.from_url(REDIS_URL)
    probe.flushdb()
    apps = {name: build() for name, build in VARIANTS.items()}
    costs = {name: redis_cost(app, probe) for name, app in apps.items()}
    probe.flushdb()
    samples = measure(apps, args.rounds, args.requests)
    medians = {name: statistics.median(s) / 1000 for name, s in samples.items()}
    base = medians["bare Flask view"]
    hand: dict[str, Any] = {
        "fixed-window": medians["Flask-Limiter by hand, Redis, fixed-window, headers on"],
        "moving-window": medians["Flask-Limiter by hand, Redis, moving-window, headers on"],
    }
    print(f"{args.rounds} rounds x {args.requests} requests per variant, limit {LIMIT}, medians\n")
    header = "| variant | median µs/req | x bare | x hand FL fixed | x hand FL moving "
    print(header + "| Redis cmds/req | round trips/req |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, median in medians.items():
        commands, trips = costs[name]
        print(
            f"| {name} | {median:,.0f} | {median / base:.2f} | "
            f"{median / hand['fixed-window']:.2f} | {median / hand['moving-window']:.2f} | "
            f"{commands:.1f} | {trips:.1f} |"
        )
    probe.flushdb()
    logging.disable(logging.NOTSET)


if __name__ == "__main__":
    main()
