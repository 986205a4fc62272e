"""Client addresses: X-Forwarded-For counts only behind trusted proxies."""

from __future__ import annotations

from .conftest import LimitedApp


def test_spoofed_forwarded_for_does_not_reset_a_limit(limited_app: LimitedApp) -> None:
    """Without trusted proxies a client that invents X-Forwarded-For stays limited."""
    client = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "2/minute"}).test_client()
    statuses = [
        client.get("/hello", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


def test_forwarded_for_is_the_client_behind_a_trusted_proxy(limited_app: LimitedApp) -> None:
    """With RESILIENCE_TRUSTED_PROXIES=1 each forwarded address has its own budget."""
    app = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "1/minute", "RESILIENCE_TRUSTED_PROXIES": 1})
    client = app.test_client()
    first = {"X-Forwarded-For": "198.51.100.1"}
    assert client.get("/hello", headers=first).status_code == 200
    assert client.get("/hello", headers=first).status_code == 429
    assert client.get("/hello", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200


def test_only_the_trusted_hop_counts(limited_app: LimitedApp) -> None:
    """Behind one proxy, addresses the client prepended to X-Forwarded-For are ignored."""
    app = limited_app({"RESILIENCE_RATELIMIT_DEFAULT": "1/minute", "RESILIENCE_TRUSTED_PROXIES": 1})
    client = app.test_client()
    assert (
        client.get("/hello", headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.9"}).status_code
        == 200
    )
    spoofed = {"X-Forwarded-For": "2.2.2.2, 198.51.100.9"}
    assert client.get("/hello", headers=spoofed).status_code == 429
