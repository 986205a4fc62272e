"""Redis-backed breakers across real OS processes and threads, and through a Redis outage."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from flask_resilience._foundation.clock import ManualClock
from flask_resilience.errors import CircuitOpenError
from flask_resilience.resilient import BreakerConfig, BreakerState, CircuitBreaker
from flask_resilience.resilient._windows import FAILURE, SLOW, SUCCESS
from flask_resilience.resilient.redis_store import RedisBreakerStore, redis_store_factory

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
ROOT = Path(__file__).resolve().parents[2]
LOGGER = "flask_resilience.resilient.redis_store"

# A worker process: builds the breaker "shared" on Redis and does one action, printing JSON.
CHILD = """
import json, sys
from flask_resilience._foundation.clock import SYSTEM_CLOCK, ManualClock
from flask_resilience.errors import CircuitOpenError
from flask_resilience.resilient import CircuitBreaker
from flask_resilience.resilient.redis_store import redis_store_factory

url, action, now = sys.argv[1], sys.argv[2], sys.argv[3]
source = "redis" if now == "real" else "clock"
clock = SYSTEM_CLOCK if now == "real" else ManualClock(float(now))
breaker = CircuitBreaker(
    name="shared", failure_threshold=3, failure_rate_threshold=None, half_open_max_calls=2,
    reset_timeout=30.0, store_factory=redis_store_factory(url, time_source=source), clock=clock,
)
def boom():
    raise ConnectionError("down")
if action == "fail":
    for _ in range(3):
        try:
            breaker.call(boom)
        except ConnectionError:
            pass
    print(json.dumps({"state": breaker.state.value}))
elif action == "probe":  # take a permit and keep it, as a probe still in flight would
    permit = breaker.store.acquire()
    print(json.dumps({"admitted": permit.admitted, "probe": permit.probe}))
else:
    try:
        print(json.dumps({"result": breaker.call(int, "5")}))
    except CircuitOpenError as exc:
        print(json.dumps({"rejected": exc.remaining_seconds}))
"""


def spawn(url: str, action: str, now: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", CHILD, url, action, now]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    answer: dict[str, Any] = json.loads(out)
    return answer


def shared_breaker(client: redis.Redis | str, clock: ManualClock, **options: Any) -> Any:
    factory = redis_store_factory(client, **options)
    config = BreakerConfig(failure_threshold=3, failure_rate_threshold=None, reset_timeout=30.0)
    return CircuitBreaker.from_config("shared", config, store_factory=factory, clock=clock)


def test_a_breaker_opened_by_one_process_rejects_in_another(redis_url: str) -> None:
    """A worker process trips the breaker with Redis TIME; this process then rejects."""
    clock = ManualClock()
    breaker = shared_breaker(redis_url, clock)
    assert breaker.call(int, "1") == 1
    assert result(spawn(redis_url, "fail", "real")) == {"state": "open"}
    clock.advance(0.05)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(int, "1")
    assert 0 < caught.value.remaining_seconds <= 30.0


def test_a_breaker_opened_here_rejects_in_worker_processes(redis_url: str) -> None:
    """This process trips the breaker; three worker processes all reject their call."""
    breaker = shared_breaker(redis_url, ManualClock())
    breaker.trip("maintenance")
    workers = [spawn(redis_url, "call", "real") for _ in range(3)]
    answers = [result(worker) for worker in workers]
    assert all("rejected" in answer for answer in answers), answers


def test_probes_are_limited_across_concurrent_processes(redis_url: str) -> None:
    """Four processes racing for probes after the open time get two in total."""
    clock = ManualClock(0.0)
    breaker = shared_breaker(redis_url, clock, time_source="clock")
    breaker.trip("outage")  # open until 30.0 on the shared clock; the workers run at 1000
    workers = [spawn(redis_url, "probe", "1000") for _ in range(4)]
    answers = [result(worker) for worker in workers]
    assert sum(answer["probe"] for answer in answers) == 2, answers
    assert sum(answer["admitted"] for answer in answers) == 2
    assert breaker.snapshot().state is HALF_OPEN


def test_threads_lose_no_outcomes(redis_url: str) -> None:
    """Eight threads recording at once: every outcome reaches the shared time window."""
    client = redis.Redis.from_url(redis_url)
    try:
        factory = redis_store_factory(client, flush_batch=7, time_source="clock")
        config = BreakerConfig(
            window="time", window_size=3600, failure_threshold=10**9, failure_rate_threshold=None
        )
        store = factory("busy", config, ManualClock())
        assert isinstance(store, RedisBreakerStore)

        def work() -> None:
            for i in range(500):
                store.record(SUCCESS if i % 5 else SLOW, False)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        store.flush()
        snap = store.snapshot()
        assert (snap.calls, snap.slow_calls) == (4000, 800)
    finally:
        client.close()


def test_unreachable_redis_falls_back_locally_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis down from the start: calls run, a local breaker still trips, one WARNING."""
    clock = ManualClock()
    breaker = shared_breaker("redis://127.0.0.1:1/0", clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(50):
            assert breaker.call(int, "2") == 2
        assert asyncio.run(breaker.call_async(asyncio.sleep, 0, "async")) == "async"
        for _ in range(3):
            with pytest.raises(ConnectionError) as caught:
                breaker.call(boom)
            assert not isinstance(caught.value, redis.RedisError)
        with pytest.raises(CircuitOpenError):
            breaker.call(int, "2")  # the local stand-in opened
        for _ in range(3):
            clock.advance(1.0)  # each retry of Redis fails again, silently
            breaker.snapshot()
            breaker.store.acquire()
    store = breaker.store
    assert store.degraded and store.fallback_count == 1
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()


def boom() -> None:
    raise ConnectionError("dependency down")


class SpareRedis:
    """A redis-server of this test's own, on a free port, to stop and start at will."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed; the outage test needs its own server"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        self.process = subprocess.Popen(
            [binary, *args, str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + 10
            while True:  # bounded wait for the real server process to listen
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def spare(tmp_path: Path) -> Iterator[SpareRedis]:
    server = SpareRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_outage_and_recovery_back_to_shared_state(
    spare: SpareRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops: local state, one WARNING; Redis is back: shared state after retry_after."""
    client = redis.Redis(port=spare.port, socket_timeout=0.5, retry=Retry(NoBackoff(), 1))
    clock = ManualClock()
    try:
        breaker = shared_breaker(client, clock, time_source="clock")
        store: RedisBreakerStore = breaker.store
        fail_times(breaker, 1)
        assert store.snapshot().failures == 1
        spare.stop()
        with caplog.at_level(logging.INFO, logger=LOGGER):
            fail_times(breaker, 1)  # its flush finds Redis gone: local from now on
            assert store.degraded and store.fallback_count == 1
            fail_times(breaker, 2)
            assert store.state is OPEN  # locally: the fresh stand-in saw 3 failures
            clock.advance(1.0)
            with pytest.raises(CircuitOpenError):
                breaker.call(int)  # Redis retried, still down: no second warning
            spare.start()
            clock.advance(0.5)
            with pytest.raises(CircuitOpenError):
                breaker.call(int)  # back-off not over yet: still local
            clock.advance(0.5)
            assert breaker.call(int, "3") == 3 and not store.degraded
        fail_times(breaker, 3)
        assert client.hget(store.keys[0], "state") == b"open"
        messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]
        assert [level for level, _ in messages] == [logging.WARNING, logging.INFO]
        assert store.fallback_count == 1
    finally:
        client.close()


def fail_times(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            breaker.call(boom)


def test_batch_pending_at_the_outage_is_kept_locally() -> None:
    """Outcomes batched when Redis fails are replayed into the local stand-in, not lost."""
    factory = redis_store_factory("redis://127.0.0.1:1/0", flush_batch=100)
    store = factory("db", BreakerConfig(window_size=10, minimum_calls=3), ManualClock())
    assert isinstance(store, RedisBreakerStore)
    store.record(SLOW, False)
    store.record(SUCCESS, False)
    store.record(FAILURE, False)  # the failed flush carries the whole batch into the stand-in
    assert store.degraded
    snap = store.snapshot()
    assert (snap.calls, snap.failures, snap.slow_calls, snap.state) == (3, 1, 1, CLOSED)
