"""Redis down: every request still succeeds, the value is computed, one WARNING per outage."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from flask_resilience.caching.config import redis_backend_config
from flask_resilience.caching.outage import Outage
from tests.black_hole import BlackHole

from .conftest import Clock, res, runtime

LOGGER = "flask_resilience.cache"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def _app_with_view(
    make_app: Callable[..., Flask], sqlite_url: str, url: str, **config: Any
) -> Flask:
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_REDIS_URL": url, **config})
    calls: list[int] = []
    app.config["calls"] = calls

    @app.get("/quiz/<int:quiz_id>")
    @res.cache.cached(ttl=60, key="quiz:{quiz_id}", tags=["quiz:{quiz_id}"])
    def quiz(quiz_id: int) -> dict[str, int]:
        calls.append(quiz_id)
        return {"id": quiz_id}

    return app


def test_closed_port_still_serves_and_warns_once(
    make_app: Callable[..., Flask], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis on a closed port, views answer 200 (computed) and one WARNING is logged."""
    url = f"redis://127.0.0.1:{_free_port()}/0"
    app = _app_with_view(make_app, sqlite_url, url, RESILIENCE_CACHE_L1_SIZE=10)
    runtime(app).outage.retry_interval = 0  # probe Redis on every request
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(5):
            assert client.get("/quiz/1").json == {"id": 1}
        with app.app_context():
            assert res.cache.get_or_set("k", lambda: "direct", 60) == "direct"
            assert res.cache.invalidate(tags=["quiz:1"]) is False
    assert app.config["calls"] == [1] * 5
    assert len(_warnings(caplog)) == 1
    counts = runtime(app).counters.snapshot()
    assert counts[("quiz", "error")] == 5


@pytest.fixture
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of our own on a free port, so the test may stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH; install Redis to run this test")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)


def test_redis_stopped_mid_test(
    make_app: Callable[..., Flask],
    sqlite_url: str,
    redis_server: tuple[str, subprocess.Popen[bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Cached while Redis runs; after it is stopped requests still get 200 and one warning."""
    url, proc = redis_server
    app = _app_with_view(make_app, sqlite_url, url)
    runtime(app).outage.retry_interval = 0
    client = app.test_client()
    assert client.get("/quiz/1").status_code == 200
    assert client.get("/quiz/1").status_code == 200
    assert app.config["calls"] == [1]
    proc.terminate()
    proc.wait(10)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            response = client.get("/quiz/1")
            assert response.status_code == 200 and response.json == {"id": 1}
    assert app.config["calls"] == [1, 1, 1, 1]
    assert len(_warnings(caplog)) == 1
    assert runtime(app).outage.degraded


def test_outage_skips_redis_between_probes(
    make_app: Callable[..., Flask], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """After a failure Redis is skipped until the probe interval passed (no timeout per call)."""
    url = f"redis://127.0.0.1:{_free_port()}/0"
    app = _app_with_view(make_app, sqlite_url, url)
    outage = runtime(app).outage
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        client.get("/quiz/1")
        assert outage.degraded and not outage.available()
        client.get("/quiz/1")
    assert len(_warnings(caplog)) == 1


def test_one_request_probes_a_silent_redis_the_others_skip_it(
    make_app: Callable[..., Flask], sqlite_url: str, black_hole: BlackHole
) -> None:
    """With Redis silent, a probe costs one socket timeout (no retry) and only one of many
    concurrent requests pays it; the others answer at once, uncached."""
    url = f"redis://127.0.0.1:{black_hole.port}/0"
    app = _app_with_view(make_app, sqlite_url, url, RATELIMIT_ENABLED=False)  # only the cache
    clock = Clock(0.0)
    runtime(app).outage = Outage(retry_interval=1.0, clock=clock)
    client = app.test_client()
    started = time.monotonic()
    assert client.get("/quiz/1").status_code == 200  # the failure that starts the outage
    first = time.monotonic() - started
    assert 0.8 < first < 1.6  # one socket timeout (1 s), not two
    assert len(black_hole.accepted) == 1
    clock.now += 1.5  # the next probe is due
    timings: list[float] = []
    barrier = threading.Barrier(8)

    def request() -> None:
        barrier.wait()
        began = time.monotonic()
        with app.test_client() as own:
            assert own.get("/quiz/1").status_code == 200
        timings.append(time.monotonic() - began)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    slow = [t for t in timings if t > 0.8]
    assert len(timings) == 8 and len(slow) == 1, timings
    assert len(black_hole.accepted) == 2
    assert app.config["calls"] == [1] * 9


def test_the_cache_client_retries_refused_connections_but_not_timeouts() -> None:
    """Every Redis backend config retries a dropped connection once, and never a timeout."""
    for url in (
        "redis://h:6379/0",
        "redis+sentinel://s1:26379/mymaster",
        "redis+cluster://n1:7000",
    ):
        retry = redis_backend_config(url)["CACHE_OPTIONS"]["retry"]
        assert retry._supported_errors == (redis.ConnectionError,), url
        assert retry._retries == 1
