"""Storage options: an outage probe costs one socket timeout; a dropped connection costs none."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from flask_resilience._foundation.redis_factory import REDIS_TIMEOUT_SECONDS

from .conftest import LimitedApp, SpareRedis
from .test_fallback import fallback_gauge


class SilentServer:
    """Accepts TCP connections and never answers: a hung or blackholed Redis."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_a_probe_costs_one_socket_timeout(
    limited_app: LimitedApp, silent_server: SilentServer
) -> None:
    """Against a Redis that never answers, the first request waits one timeout, not two."""
    app = limited_app({"RESILIENCE_REDIS_URL": f"redis://127.0.0.1:{silent_server.port}/0"})
    client = app.test_client()
    started = time.monotonic()
    assert client.get("/hello").status_code == 200
    elapsed = time.monotonic() - started
    assert REDIS_TIMEOUT_SECONDS * 0.9 <= elapsed < REDIS_TIMEOUT_SECONDS * 1.8
    assert len(silent_server.accepted) == 1  # no reconnect-and-retry after the timeout
    started = time.monotonic()
    assert client.get("/hello").status_code == 200  # the outage is known: memory, no wait
    assert time.monotonic() - started < REDIS_TIMEOUT_SECONDS / 2
    # read the runtime, not /metrics: other capabilities' collectors would each wait a timeout
    assert app.extensions["resilience"].capabilities["ratelimit"].in_fallback


def test_a_dropped_connection_starts_no_outage(
    limited_app: LimitedApp, spare_redis: SpareRedis, log_records: Any
) -> None:
    """Redis closing the limiter's idle connections (CLIENT KILL) is not an outage."""
    app = limited_app({"RESILIENCE_REDIS_URL": spare_redis.url})
    client = app.test_client()
    assert client.get("/hello").status_code == 200
    admin = redis.Redis(port=spare_redis.port)
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    admin.close()
    assert client.get("/hello").headers["X-RateLimit-Remaining"] == "98"
    assert fallback_gauge(client) == "resilience_ratelimit_fallback 0.0"
