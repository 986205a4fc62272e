"""Redis errors that are not outages: a broken key fails by its limit's mode, never with a 500."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from .conftest import LimitedApp, SpareRedis
from .test_fallback import fallback_gauge, outage_warnings

Records = list[tuple[str, str, dict[str, Any]]]


def break_keys(redis_url: str, pattern: str) -> list[bytes]:
    """Replace every limit key matching ``pattern`` by a hash: the next command gets WRONGTYPE."""
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(pattern)
    for key in keys:
        client.delete(key)
        client.hset(key, "not", "a window")
    client.close()
    assert keys, f"no key matches {pattern}"
    return keys


def storage_errors(records: Records) -> list[str]:
    return [m for level, m, _ in records if level == "ERROR" and "rate-limit storage error" in m]


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
def test_wrongtype_on_a_closed_limit_keeps_limiting_from_memory(
    limited_app: LimitedApp, redis_url: str, log_records: Records, strategy: str
) -> None:
    """A fail-closed limit whose key is a hash is enforced from memory; one ERROR, no outage."""
    app = limited_app(
        {"RESILIENCE_RATELIMIT_UPLOAD": "2/hour", "RESILIENCE_RATELIMIT_STRATEGY": strategy}
    )
    client = app.test_client()
    assert client.post("/upload").status_code == 200
    break_keys(redis_url, "*upload*")
    statuses = [client.post("/upload").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # memory counts afresh: 2 per hour in this process
    errors = storage_errors(log_records)
    assert len(errors) == 1  # throttled: once a minute per limit and error code
    assert "upload" in errors[0] and "WRONGTYPE" in errors[0] and "fail-closed" in errors[0]
    assert outage_warnings(log_records) == []
    assert fallback_gauge(client) == "resilience_ratelimit_fallback 0.0"


def test_wrongtype_on_an_open_limit_lets_requests_through(
    limited_app: LimitedApp, redis_url: str, log_records: Records
) -> None:
    """The fail-open listing preset stops limiting while its key is broken."""
    client = limited_app({"RESILIENCE_RATELIMIT_LISTING": "1/minute"}).test_client()
    assert client.get("/listing").status_code == 200
    break_keys(redis_url, "*listing*")
    assert {client.get("/listing").status_code for _ in range(4)} == {200}
    assert "fail-open" in storage_errors(log_records)[0]


def test_a_broken_key_leaves_the_other_limits_on_redis(
    limited_app: LimitedApp, redis_url: str
) -> None:
    """Of a request's two limits, the healthy one keeps counting in Redis."""
    client = limited_app().test_client()
    assert client.get("/report").status_code == 200
    break_keys(redis_url, "*1000/1/day*")
    response = client.get("/report")
    assert response.status_code == 200
    assert '"burst";r=48;' in response.headers["RateLimit"]  # the second hit, counted in Redis
    healthy = redis.Redis.from_url(redis_url).keys("*50/1/minute*")
    assert len(healthy) == 1


def test_error_log_repeats_after_the_throttle_interval(
    limited_app: LimitedApp, redis_url: str, log_records: Records
) -> None:
    """The ERROR line comes back once the minute is over, however many requests fail before."""
    app = limited_app({"RESILIENCE_RATELIMIT_UPLOAD": "9/hour"})
    runtime = app.extensions["resilience"].capabilities["ratelimit"]
    now = [1000.0]
    runtime.clock = lambda: now[0]
    client = app.test_client()
    client.post("/upload")
    break_keys(redis_url, "*upload*")
    for _ in range(3):
        client.post("/upload")
    now[0] += 61
    client.post("/upload")
    assert len(storage_errors(log_records)) == 2


def test_read_only_replica_is_an_outage(
    limited_app: LimitedApp, tmp_path: Any, log_records: Records
) -> None:
    """READONLY (a replica, e.g. a demoted primary after failover) switches to memory."""
    primary, replica = SpareRedis(tmp_path / "primary"), SpareRedis(tmp_path / "replica")
    for server in (primary, replica):
        server.workdir.mkdir()
        server.start()
    try:
        control = redis.Redis(port=replica.port)
        control.replicaof("127.0.0.1", primary.port)
        deadline = time.monotonic() + 10
        while control.info("replication")["role"] != "slave":  # bounded wait for the real role
            assert time.monotonic() < deadline
            time.sleep(0.02)
        control.close()
        app = limited_app(
            {"RESILIENCE_REDIS_URL": replica.url, "RESILIENCE_RATELIMIT_LOGIN": "2/minute"}
        )
        client = app.test_client()
        statuses = [client.post("/login", json={"username": "a"}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert fallback_gauge(client) == "resilience_ratelimit_fallback 1.0"
        warnings = outage_warnings(log_records)
        assert len(warnings) == 1 and "READONLY" in warnings[0].upper()
        assert storage_errors(log_records) == []
    finally:
        replica.stop()
        primary.stop()
