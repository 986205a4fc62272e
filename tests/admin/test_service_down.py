"""A backing service that does not answer makes the admin and job APIs answer 503 problems
with Retry-After, never a 500: the request was fine and will work once the service is back."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request

from flask_resilience import Resilience

ADMIN = {"X-Admin": "yes"}
NOBODY_LISTENS = "127.0.0.1:1"  # port 1: connection refused at once


def _app(make_app: Callable[..., Flask], database_url: str, redis_url: str) -> Flask:
    app = make_app(
        {"RESILIENCE_DATABASE_URL": database_url, "RESILIENCE_REDIS_URL": redis_url}, init=False
    )
    res = Resilience(app)

    @res.admin_auth
    def is_admin() -> bool:
        return request.headers.get("X-Admin") == "yes"

    return app


def _assert_503(response: object, service: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert body["status"] == 503 and body["service"] == service
    assert int(response.headers["Retry-After"]) > 0  # type: ignore[attr-defined]


def test_admin_job_routes_answer_503_while_redis_is_down(
    make_app: Callable[..., Flask], db_url: str
) -> None:
    """List, retry, cancel and delete reach Redis first: each is a 503 naming Redis."""
    client = _app(make_app, db_url, f"redis://{NOBODY_LISTENS}/0").test_client()
    _assert_503(client.get("/resilience/admin/jobs?status=failed", headers=ADMIN), "redis")
    _assert_503(client.post("/resilience/admin/jobs/abc/retry", headers=ADMIN), "redis")
    _assert_503(client.post("/resilience/admin/jobs/abc/cancel", headers=ADMIN), "redis")
    _assert_503(client.delete("/resilience/admin/jobs/abc", headers=ADMIN), "redis")


def test_admin_metrics_answer_503_while_the_database_is_down(
    make_app: Callable[..., Flask], redis_url: str
) -> None:
    """The metric query cannot connect: a 503 naming the database, not a 500 with a trace."""
    database = f"postgresql+psycopg://postgres@{NOBODY_LISTENS}/test"
    client = _app(make_app, database, redis_url).test_client()
    _assert_503(client.get("/resilience/admin/metrics/quiz:1:score", headers=ADMIN), "database")
