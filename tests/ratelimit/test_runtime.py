"""Per-app registration of decorated views: the cache-above-limit mistake is reported."""

from __future__ import annotations

from typing import Any

from flask import Flask

from flask_resilience import Resilience
from flask_resilience.ratelimit import limit

from .conftest import LimitedApp

Records = list[tuple[str, str, dict[str, Any]]]
cache = Resilience().cache


@cache.cached(ttl=60, key="wrong-order")
@limit("2/minute", key="ip", name="under-cache")
def cached_above() -> str:
    return "cached above the limit"


@limit("2/minute", key="ip", name="over-cache")
@cache.cached(ttl=60, key="right-order")
def limit_above() -> str:
    return "limit above the cache"


def order_app(limited_app: LimitedApp) -> Flask:
    app = limited_app()
    app.add_url_rule("/wrong", "wrong", cached_above)
    app.add_url_rule("/right", "right", limit_above)
    return app


def order_warnings(records: Records) -> list[str]:
    return [m for level, m, _ in records if level == "WARNING" and "cached above" in m]


def test_cache_above_a_limit_is_warned_once(limited_app: LimitedApp, log_records: Records) -> None:
    """A cached wrapper over a limited view logs one WARNING naming the view and its limits."""
    client = order_app(limited_app).test_client()
    for _ in range(3):  # 2/minute, yet never a 429: cache hits skip the limit
        assert client.get("/wrong").status_code == 200
    warnings = order_warnings(log_records)
    assert len(warnings) == 1
    assert "wrong" in warnings[0] and "under-cache" in warnings[0]
    assert "put the limit decorators above @cached" in warnings[0]


def test_limit_above_the_cache_limits_cache_hits(
    limited_app: LimitedApp, log_records: Records
) -> None:
    """With the limit on top, cache hits are counted and carry headers, and nothing is warned."""
    client = order_app(limited_app).test_client()
    first, hit = client.get("/right"), client.get("/right")
    assert (first.status_code, hit.status_code) == (200, 200)
    assert hit.headers["RateLimit"].startswith('"over-cache";r=0;')
    assert client.get("/right").status_code == 429
    assert order_warnings(log_records) == []
