"""Liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from flask_resilience import get_state, schema


def test_healthz_answers_without_touching_dependencies(
    make_app: Callable[..., Flask], tmp_path: object
) -> None:
    """/healthz is 200 even when the database is unreachable."""
    app = make_app({"RESILIENCE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_on_postgres_and_redis(app: Flask) -> None:
    """With migrations applied and both services up, /readyz is ready with latencies."""
    schema.upgrade(app)
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "migrations"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["latency_ms"] >= 0
    get_state(app).engine.dispose()


def test_migrations_behind_head_is_unavailable(app: Flask) -> None:
    """A database without the extension's migrations answers 503 unavailable."""
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["migrations"]["ok"] is False
    assert "flask resilience db upgrade" in body["checks"]["migrations"]["detail"]
    get_state(app).engine.dispose()


def test_redis_down_is_degraded_not_unavailable(
    make_app: Callable[..., Flask], db_url: str
) -> None:
    """An unreachable Redis keeps the instance in the pool (200 degraded)."""
    app = make_app(
        {"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    schema.upgrade(app)
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    get_state(app).engine.dispose()


def test_database_down_is_unavailable(make_app: Callable[..., Flask], redis_url: str) -> None:
    """An unreachable database takes the instance out of the pool (503)."""
    app = make_app(
        {
            "RESILIENCE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "RESILIENCE_REDIS_URL": redis_url,
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["redis"]["ok"] is True


def test_probes_can_be_disabled(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """RESILIENCE_HEALTH_ENABLED=false leaves /healthz to the host app."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_HEALTH_ENABLED": "false"})
    assert app.test_client().get("/healthz").status_code == 404
