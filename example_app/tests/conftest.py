"""Fixtures for the example app: an embedded-mode app on a SQLite file, clients and tokens."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from example_app import create_app
from example_app.extensions import resilience

AppFactory = Callable[..., Flask]


@pytest.fixture(autouse=True)
def _clean_example_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep EXAMPLE_* variables of the developer's shell out of the tests."""
    for key in list(os.environ):
        if key.startswith("EXAMPLE_"):
            monkeypatch.delenv(key)


@pytest.fixture
def make_example_app(tmp_path: Path) -> Iterator[AppFactory]:
    """``make_example_app(config)`` builds the app in a private instance folder; engines are
    disposed after the test so no SQLite or PostgreSQL connection outlives it."""
    apps: list[Flask] = []

    def factory(config: dict[str, Any] | None = None) -> Flask:
        app = create_app(
            {"TESTING": True, **(config or {})}, instance_path=str(tmp_path / "instance")
        )
        apps.append(app)
        return app

    yield factory
    for app in apps:
        resilience.close(app)


@pytest.fixture
def embedded_app(make_example_app: AppFactory, sqlite_url: str) -> Flask:
    """The app in embedded mode: SQLite, fakeredis, migrated and seeded at start."""
    return make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})


@pytest.fixture
def client(embedded_app: Flask) -> FlaskClient:
    return embedded_app.test_client()


def bearer(client: FlaskClient, username: str, password: str) -> dict[str, str]:
    """Log in through the API and return the Authorization header to send."""
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


@pytest.fixture
def alice(client: FlaskClient) -> dict[str, str]:
    return bearer(client, "alice", "wonderland")


@pytest.fixture
def bob(client: FlaskClient) -> dict[str, str]:
    return bearer(client, "bob", "builder")


@pytest.fixture
def admin(client: FlaskClient) -> dict[str, str]:
    return bearer(client, "admin", "admin-demo")


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Check ``response`` is RFC 9457 problem JSON with ``status`` and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "instance"} <= body.keys()
    return body
