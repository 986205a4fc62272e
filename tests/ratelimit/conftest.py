"""Fixtures for the rate-limit tests: an app factory with decorated views, Redis helpers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask, request
from loguru import logger

from flask_resilience import Resilience
from flask_resilience.ratelimit import exempt, limit, limits


@limits.login
def login() -> str:
    return "welcome"


@limits.upload
def upload() -> str:
    return "stored"


@limits.listing
def listing() -> str:
    return "items"


@limits.autosave
def autosave() -> str:
    return "saved"


@limits.submit
def submit(quiz_id: int) -> str:
    return f"submitted {quiz_id}"


@limit("3/minute", key="ip", name="search")
def search() -> str:
    return "results"


@limit("2/minute", key=lambda: "tenant:" + request.headers.get("X-Tenant", "-"), name="tenant")
def tenant() -> str:
    return "tenant"


@limit("50/minute", key="ip", name="burst")
@limit("1000/day", name="daily")
def report() -> str:
    return "report"


@exempt
def health() -> str:
    return "fine"


def hello() -> str:
    return "hi"


def add_views(app: Flask) -> None:
    """The same import-time-decorated views on any app."""
    app.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    app.add_url_rule("/upload", "upload", upload, methods=["POST"])
    app.add_url_rule("/listing", "listing", listing)
    app.add_url_rule("/autosave", "autosave", autosave, methods=["PUT"])
    app.add_url_rule("/quiz/<int:quiz_id>/submit", "submit", submit, methods=["POST"])
    app.add_url_rule("/search", "search", search)
    app.add_url_rule("/tenant", "tenant", tenant)
    app.add_url_rule("/report", "report", report)
    app.add_url_rule("/health", "health", health)
    app.add_url_rule("/hello", "hello", hello)


LimitedApp = Callable[..., Flask]


@pytest.fixture
def limited_app(make_app: Callable[..., Flask], redis_url: str, sqlite_url: str) -> LimitedApp:
    """``limited_app(config={...}, redis=True)``: an app with the test views and a user loader.

    The user is whatever the ``X-User`` header says (none when absent).
    """

    def factory(config: dict[str, Any] | None = None, *, redis: bool = True) -> Flask:
        base: dict[str, Any] = {"RESILIENCE_DATABASE_URL": sqlite_url}
        if redis:
            base["RESILIENCE_REDIS_URL"] = redis_url
        app = make_app({**base, **(config or {})}, init=False)
        add_views(app)
        res = Resilience(app)
        res.user_loader(lambda: request.headers.get("X-User"))
        return app

    return factory


@pytest.fixture
def log_records() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every loguru record emitted during the test: (level, message, extra)."""
    records: list[tuple[str, str, dict[str, Any]]] = []
    sink = logger.add(
        lambda m: records.append((m.record["level"].name, m.record["message"], m.record["extra"])),
        level="DEBUG",
    )
    yield records
    logger.remove(sink)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SpareRedis:
    """A redis-server of this test's own, on a free port, to stop and start at will."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed; the outage test needs its own server"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        self.process = subprocess.Popen(
            [binary, *args, str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
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
def spare_redis(tmp_path: Path) -> Iterator[SpareRedis]:
    """A private redis-server, stopped at teardown."""
    server = SpareRedis(tmp_path)
    server.start()
    yield server
    server.stop()
