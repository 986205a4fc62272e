"""Storage options: an outage probe costs one socket timeout; a dropped connection costs none."""

from __future__ import annotations

import time
from typing import Any

import redis

from flask_resilience._foundation.redis_factory import REDIS_TIMEOUT_SECONDS
from tests.black_hole import BlackHole

from .conftest import LimitedApp, SpareRedis
from .test_fallback import fallback_gauge


def test_a_probe_costs_one_socket_timeout(limited_app: LimitedApp, black_hole: BlackHole) -> None:
    """Against a Redis that never answers, the first request waits one timeout, not two."""
    app = limited_app({"RESILIENCE_REDIS_URL": f"redis://127.0.0.1:{black_hole.port}/0"})
    client = app.test_client()
    started = time.monotonic()
    assert client.get("/hello").status_code == 200
    elapsed = time.monotonic() - started
    assert REDIS_TIMEOUT_SECONDS * 0.9 <= elapsed < REDIS_TIMEOUT_SECONDS * 1.8
    assert len(black_hole.accepted) == 1  # no reconnect-and-retry after the timeout
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
