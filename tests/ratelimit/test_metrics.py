"""429s are counted for Prometheus and logged with route, key kind and limit."""

from __future__ import annotations

from typing import Any

from .conftest import LimitedApp


def test_hits_counted_by_endpoint_and_limit(limited_app: LimitedApp) -> None:
    """resilience_ratelimit_hits_total counts each 429 under its endpoint and policy name."""
    client = limited_app({"RESILIENCE_RATELIMIT_LOGIN": "1/minute"}).test_client()
    for _ in range(3):
        client.post("/login", json={"username": "a"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'resilience_ratelimit_hits_total{endpoint="login",limit="login"} 2.0' in text
    assert "resilience_ratelimit_fallback 0.0" in text


def test_every_429_is_logged(
    limited_app: LimitedApp, log_records: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """A 429 logs the route, the key kind and the limit."""
    client = limited_app({"RESILIENCE_RATELIMIT_UPLOAD": "1/hour"}).test_client()
    client.post("/upload", headers={"X-User": "3"})
    client.post("/upload", headers={"X-User": "3"})
    client.post("/login", json={})
    hits = [(m, extra) for level, m, extra in log_records if "exceeded" in m]
    assert len(hits) == 1
    message, extra = hits[0]
    assert "/upload" in message and "1 per 1 hour" in message
    assert extra["key_kind"] == "user" and extra["policy"] == "upload"
