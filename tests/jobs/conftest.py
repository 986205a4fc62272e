"""Job test fixtures: apps on real Redis and PostgreSQL, in-process burst workers, and worker
processes (``flask resilience worker``) started on loopback and stopped by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from flask_resilience import schema
from flask_resilience.jobs import runtime
from flask_resilience.jobs.worker import build_worker

from . import tasks

ROOT = Path(__file__).resolve().parents[2]
FAST = {"RESILIENCE_JOBS_LEASE_SECONDS": 3, "RESILIENCE_JOBS_SWEEP_INTERVAL": 0.2}


@pytest.fixture
def make_jobs_app() -> Iterator[Callable[..., Flask]]:
    """``make_jobs_app(config)``: an app of ``tests.jobs.tasks``, closed at teardown."""
    apps: list[Flask] = []

    def factory(config: dict[str, Any]) -> Flask:
        app = tasks.create_app({**FAST, **config})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        tasks.res.close(app)


class RedisServer:
    """A private redis-server on a free loopback port that a test can stop and restart."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: _pings(client), 10, "redis-server to start")
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def jobs_app(make_jobs_app: Callable[..., Flask], db_url: str, redis_url: str) -> Flask:
    """Production mode: real Redis db 15 and a private PostgreSQL schema, migrated."""
    app = make_jobs_app({"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_url})
    schema.upgrade(app)
    return app


def drain(app: Flask, *, queues: list[str] | None = None, scheduler: bool = False) -> None:
    """Run every queued job with an in-process burst ``SimpleWorker`` of ours."""
    worker = build_worker(app, runtime(app), queues=queues, simple=True, with_scheduler=scheduler)
    worker.work(burst=True, logging_level="WARNING")


def wait_for(predicate: Callable[[], Any], seconds: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` every 20 ms until it is truthy; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


class WorkerProcess:
    """A ``flask resilience worker`` child process in its own session."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        command = [sys.executable, "-m", "flask", "--app", "tests.jobs.tasks:create_app"]
        self.process = subprocess.Popen(
            [*command, "resilience", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, seconds: float) -> int:
        return self.process.wait(timeout=seconds)

    def output(self) -> str:
        return self.process.stdout.read().decode() if self.process.stdout else ""

    def stop(self) -> None:
        """Kill whatever is left of the process group (worker, work horse, scheduler)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def process_app(
    make_jobs_app: Callable[..., Flask], db_url: str, redis_server: RedisServer
) -> Flask:
    """An app on a private redis-server, so workers of other test runs sharing the usual test
    database cannot take these tests' jobs."""
    app = make_jobs_app(
        {"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_server.url}
    )
    schema.upgrade(app)
    return app


@pytest.fixture
def spawn_worker(db_url: str, redis_server: RedisServer) -> Iterator[Callable[..., WorkerProcess]]:
    """``spawn_worker("--simple", ...)`` starts a real worker process on the private Redis;
    all are killed after the test."""
    started: list[WorkerProcess] = []
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RESILIENCE_")},
        "PYTHONPATH": str(ROOT),
        "RESILIENCE_DATABASE_URL": db_url,
        "RESILIENCE_REDIS_URL": redis_server.url,
        **{key: str(value) for key, value in FAST.items()},
    }

    def spawn(*args: str) -> WorkerProcess:
        worker = WorkerProcess(env, *args)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.stop()
