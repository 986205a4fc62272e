"""Rate-limit headers (X-RateLimit-*, IETF draft-11 fields, Retry-After) and the 429 body."""

from __future__ import annotations

import re

from .conftest import LimitedApp

POLICY = re.compile(r'^"[a-z0-9-]+";q=\d+;w=\d+$')
STATE = re.compile(r'^"[a-z0-9-]+";r=\d+;t=\d+(;pk=:[A-Za-z0-9+/=]+:)?$')


def test_ietf_fields_name_policies_with_delta_seconds(limited_app: LimitedApp) -> None:
    """RateLimit-Policy gives q and w; RateLimit gives r and t in seconds, not an epoch."""
    client = limited_app().test_client()
    response = client.post("/upload", headers={"X-User": "9"})
    assert response.headers["RateLimit-Policy"] == '"upload";q=10;w=3600'
    state = response.headers["RateLimit"]
    assert STATE.match(state) and state.startswith('"upload";r=9;t=')
    t = int(state.split(";t=")[1].split(";")[0])
    assert 3595 <= t <= 3600
    assert POLICY.match(response.headers["RateLimit-Policy"])


def test_several_limits_in_one_policy_are_named_by_window(limited_app: LimitedApp) -> None:
    """A default of '5/minute;50/hour' lists two named policies and two states."""
    client = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "5/minute;50/hour"}).test_client()
    response = client.get("/hello")
    assert response.headers["RateLimit-Policy"] == (
        '"default-60s";q=5;w=60, "default-3600s";q=50;w=3600'
    )
    first, second = response.headers["RateLimit"].split(", ")
    assert first.startswith('"default-60s";r=4;') and second.startswith('"default-3600s";r=49;')


def test_legacy_headers_on_every_limited_response(limited_app: LimitedApp) -> None:
    """X-RateLimit-Limit/-Remaining/-Reset (epoch seconds) are on every limited response."""
    client = limited_app().test_client()
    response = client.get("/hello")
    assert response.headers["X-RateLimit-Limit"] == "100"
    assert response.headers["X-RateLimit-Remaining"] == "99"
    assert int(response.headers["X-RateLimit-Reset"]) > 1_600_000_000


def test_retry_after_only_on_429(limited_app: LimitedApp) -> None:
    """Flask-Limiter's Retry-After is dropped from 200s and kept, consistent, on the 429."""
    client = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "1/minute"}).test_client()
    ok = client.get("/hello")
    assert "Retry-After" not in ok.headers
    assert not any(name.startswith("X-Resilience") for name, _ in ok.headers.items())
    refused = client.get("/hello")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(refused.get_json()["retry_after"])
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_partition_key_never_holds_the_user_id(limited_app: LimitedApp) -> None:
    """pk is a keyed digest: neither the user id nor the address appears in any header."""
    client = limited_app().test_client()
    response = client.post("/upload", headers={"X-User": "alice@example.com"})
    assert ";pk=:" in response.headers["RateLimit"]
    for value in response.headers.values():
        assert "alice" not in value and "127.0.0.1" not in value


def test_headers_can_be_switched_off(limited_app: LimitedApp) -> None:
    """RATELIMIT_HEADERS_ENABLED=False (Flask-Limiter's key) removes every rate-limit header."""
    client = limited_app({"RATELIMIT_HEADERS_ENABLED": False}).test_client()
    response = client.get("/hello")
    assert "RateLimit" not in response.headers and "X-RateLimit-Limit" not in response.headers
