"""The one-round-trip Lua batch on real Redis: round trips, key layout, sharing, isolation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES

from .conftest import LimitedApp, SpareRedis

ROOT = Path(__file__).resolve().parents[2]
ALL_STRATEGIES = ["fixed-window", "moving-window", "sliding-window-counter"]


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_one_round_trip_per_request_headers_included(
    limited_app: LimitedApp, spare_redis: SpareRedis, strategy: str
) -> None:
    """Ten requests with two limits each and all headers cost exactly ten EVALSHA, no reads."""
    app = limited_app(
        {"RESILIENCE_REDIS_URL": spare_redis.url, "RESILIENCE_RATELIMIT_STRATEGY": strategy}
    )
    client = app.test_client()
    assert client.get("/report").status_code == 200  # loads the script once
    probe = redis.Redis(port=spare_redis.port)
    before = command_calls(probe)
    for _ in range(10):
        response = client.get("/report")
        assert response.status_code == 200
        assert response.headers["RateLimit"].count(";r=") == 2
        assert "X-RateLimit-Remaining" in response.headers
    after = command_calls(probe)
    probe.close()
    delta = {name: after[name] - before.get(name, 0) for name in after}
    delta = {name: calls for name, calls in delta.items() if calls and name != "info"}
    assert delta["evalsha"] == 10, delta
    # Flask-Limiter's own header reads are GET + TTL (fixed window) or a second EVALSHA.
    assert "ttl" not in delta
    if strategy != "sliding-window-counter":  # its script reads counters with GET inside Lua
        assert "get" not in delta


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_layout_is_the_limits_librarys_own(
    limited_app: LimitedApp, redis_url: str, strategy: str
) -> None:
    """The limits library's own strategy reads the windows our script wrote, with equal stats."""
    app = limited_app(
        {"RESILIENCE_RATELIMIT_STRATEGY": strategy, "RESILIENCE_RATELIMIT_DEFAULT": "5/minute"}
    )
    client = app.test_client()
    for _ in range(3):
        last = client.get("/hello")
    storage = storage_from_string(redis_url, key_prefix=f"resilience:ratelimit:test_app:{strategy}")
    reader = STRATEGIES[strategy](storage)  # type: ignore[arg-type]
    stats = reader.get_window_stats(parse("5/minute"), "ip:127.0.0.1", "hello")
    assert stats.remaining == 2 == int(last.headers["X-RateLimit-Remaining"])
    assert reader.test(parse("5/minute"), "ip:127.0.0.1", "hello")
    storage.get_connection().close()


def test_two_strategies_on_one_redis_do_not_collide(
    limited_app: LimitedApp, redis_url: str
) -> None:
    """Apps with different strategies on one Redis and app name each keep their own keys."""
    clients = [
        limited_app(
            {"RESILIENCE_RATELIMIT_STRATEGY": s, "RESILIENCE_RATELIMIT_DEFAULT": "3/minute"}
        ).test_client()
        for s in ALL_STRATEGIES
    ]
    for client in clients:
        assert [client.get("/hello").status_code for _ in range(4)] == [200, 200, 200, 429]
    keys = redis.Redis.from_url(redis_url).keys("*")
    prefixes = {key.replace(b"{", b"").split(b":LIMITER")[0] for key in keys}
    assert prefixes == {f"resilience:ratelimit:test_app:{s}".encode() for s in ALL_STRATEGIES}


def test_explicit_key_prefix_is_used(limited_app: LimitedApp, redis_url: str) -> None:
    """RESILIENCE_RATELIMIT_KEY_PREFIX names the key space of the limiter."""
    client = limited_app({"RESILIENCE_RATELIMIT_KEY_PREFIX": "shop-rl"}).test_client()
    client.get("/hello")
    assert all(key.startswith(b"shop-rl:") for key in redis.Redis.from_url(redis_url).keys("*"))


def test_two_app_instances_share_limits(limited_app: LimitedApp) -> None:
    """Two app instances on one Redis (as two workers would be) share one budget."""
    config = {"RESILIENCE_RATELIMIT_DEFAULT": "3/minute"}
    first, second = limited_app(config).test_client(), limited_app(config).test_client()
    assert [first.get("/hello").status_code for _ in range(2)] == [200, 200]
    assert [second.get("/hello").status_code for _ in range(2)] == [200, 429]
    assert first.get("/hello").status_code == 429


PROCESS = textwrap.dedent(
    """
    import sys
    from flask import Flask
    from flask_resilience import Resilience
    app = Flask("test_app")
    app.config.update(
        RESILIENCE_DATABASE_URL="sqlite://",
        RESILIENCE_REDIS_URL=sys.argv[1],
        RESILIENCE_RATELIMIT_DEFAULT="3/minute",
    )
    app.add_url_rule("/hello", "hello", lambda: "hi")
    Resilience(app)
    client = app.test_client()
    print(",".join(str(client.get("/hello").status_code) for _ in range(int(sys.argv[2]))))
    """
)


def test_two_processes_share_limits(redis_url: str) -> None:
    """Two real Python processes on one Redis share the 3/minute budget of one client."""

    def run(requests: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", PROCESS, redis_url, str(requests)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    assert run(2) == "200,200"
    assert run(2) == "200,429"
