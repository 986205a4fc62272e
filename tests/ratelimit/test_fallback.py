"""Redis outages: limits continue from memory, no request fails, and Redis takes over again."""

from __future__ import annotations

from typing import Any

import redis

from .conftest import LimitedApp, SpareRedis, free_port

Records = list[tuple[str, str, dict[str, Any]]]


def fallback_gauge(client: Any) -> str:
    text = client.get("/metrics").get_data(as_text=True)
    return next(
        line for line in text.splitlines() if line.startswith("resilience_ratelimit_fallback")
    )


def outage_warnings(records: Records) -> list[str]:
    return [m for level, m, _ in records if level == "WARNING" and "rate-limit storage" in m]


def test_closed_port_serves_from_memory(limited_app: LimitedApp, log_records: Records) -> None:
    """Redis unreachable from the start: no 500, login enforced per replica share, one warning."""
    app = limited_app(
        {
            "RESILIENCE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "RESILIENCE_RATELIMIT_LOGIN": "4/minute",
            "RESILIENCE_RATELIMIT_REPLICAS": 2,
        }
    )
    client = app.test_client()
    statuses = [client.post("/login", json={"username": "a"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]  # 4 per minute over 2 replicas: 2 in this process
    assert {client.get("/hello").status_code for _ in range(5)} == {200}
    assert fallback_gauge(client) == "resilience_ratelimit_fallback 1.0"
    assert len(outage_warnings(log_records)) == 1


def test_fail_open_limits_stop_limiting_during_an_outage(limited_app: LimitedApp) -> None:
    """The listing preset fails open: while Redis is down it lets every request through."""
    app = limited_app(
        {
            "RESILIENCE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "RESILIENCE_RATELIMIT_LISTING": "1/minute",
        }
    )
    client = app.test_client()
    responses = [client.get("/listing") for _ in range(4)]
    assert {r.status_code for r in responses} == {200}
    assert responses[-1].headers["RateLimit-Policy"] == '"listing";q=1;w=60'


def test_redis_stopped_mid_traffic_and_back(
    limited_app: LimitedApp, spare_redis: SpareRedis, log_records: Records
) -> None:
    """A real redis-server stops and restarts: memory meanwhile, one warning, then Redis again."""
    app = limited_app(
        {
            "RESILIENCE_REDIS_URL": spare_redis.url,
            "RESILIENCE_RATELIMIT_DEFAULT": "3/minute",
            "RESILIENCE_RATELIMIT_PROBE_SECONDS": 0,
        }
    )
    client = app.test_client()
    assert client.get("/hello").status_code == 200
    assert fallback_gauge(client) == "resilience_ratelimit_fallback 0.0"

    spare_redis.stop()
    assert [client.get("/hello").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert fallback_gauge(client) == "resilience_ratelimit_fallback 1.0"
    assert len(outage_warnings(log_records)) == 1

    spare_redis.start()
    assert client.get("/hello").status_code == 200  # an empty Redis: a fresh window
    assert fallback_gauge(client) == "resilience_ratelimit_fallback 0.0"
    assert any("reachable again" in m for level, m, _ in log_records if level == "INFO")
    assert redis.Redis(port=spare_redis.port).keys("resilience:ratelimit:*")
    assert [client.get("/hello").status_code for _ in range(3)] == [200, 200, 429]


def test_each_outage_warns_once(
    limited_app: LimitedApp, spare_redis: SpareRedis, log_records: Records
) -> None:
    """Two separate outages give two warnings, however many requests each one sees."""
    app = limited_app(
        {"RESILIENCE_REDIS_URL": spare_redis.url, "RESILIENCE_RATELIMIT_PROBE_SECONDS": 0}
    )
    client = app.test_client()
    for _ in range(2):
        spare_redis.stop()
        assert {client.get("/hello").status_code for _ in range(3)} == {200}
        spare_redis.start()
        assert client.get("/hello").status_code == 200
    assert len(outage_warnings(log_records)) == 2
