"""GET /api/recommendations: a flaky upstream behind @resilient("recommender") with a fallback."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import AppFactory, bearer


def _client(make_example_app: AppFactory, sqlite_url: str, failure_rate: float) -> FlaskClient:
    app = make_example_app(
        {
            "RESILIENCE_DATABASE_URL": sqlite_url,
            "EXAMPLE_UPSTREAM_FAILURE_RATE": failure_rate,
            "EXAMPLE_UPSTREAM_LATENCY_MS": 1,
        }
    )
    return app.test_client()


def test_healthy_upstream_answers_live(make_example_app: AppFactory, sqlite_url: str) -> None:
    """With no failures the upstream's ranking is served and the breaker stays closed."""
    client = _client(make_example_app, sqlite_url, 0.0)
    body = client.get("/api/recommendations", headers=bearer(client, "alice", "wonderland")).json
    assert body is not None
    assert body["source"] == "live"
    assert body["breaker"] == "closed"
    assert 1 <= len(body["recommendations"]) <= 5


def test_dead_upstream_falls_back_then_opens_the_breaker(
    make_example_app: AppFactory, sqlite_url: str
) -> None:
    """A dead upstream: last good answer, then popular quizzes; the breaker opens; never a 5xx."""
    client = _client(make_example_app, sqlite_url, 0.0)
    headers = bearer(client, "alice", "wonderland")
    live = client.get("/api/recommendations", headers=headers).json
    assert live is not None
    client.application.config["EXAMPLE_UPSTREAM_FAILURE_RATE"] = 1.0
    answers = [client.get("/api/recommendations", headers=headers) for _ in range(3)]
    assert all(answer.status_code == 200 for answer in answers)
    bodies = [answer.json for answer in answers]
    assert bodies[0] is not None and bodies[0]["source"] == "last_good"
    assert bodies[0]["recommendations"] == live["recommendations"]
    assert bodies[-1] is not None and bodies[-1]["breaker"] == "open"
    anonymous = client.get("/api/recommendations").json
    assert anonymous is not None and anonymous["source"] == "popular"
    assert anonymous["recommendations"]
