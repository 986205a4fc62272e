"""An app with autosave kinds on PostgreSQL and on SQLite; the caller names itself in ``X-User``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, abort, request
from flask.testing import FlaskClient

from flask_resilience import Resilience, schema
from flask_resilience.autosave import DraftValidationError

QUIZ_SCHEMA = {
    "type": "object",
    "properties": {
        "answers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"question_id": {"type": "integer"}},
                "required": ["question_id"],
            },
        },
    },
}


def owner_from_key(key: str) -> str:
    """Keys look like ``alice-1``; ``missing-*`` names nothing (404)."""
    user = key.split("-", 1)[0]
    if user == "missing":
        abort(404)
    return user


def positive_total(payload: Any) -> None:
    if payload.get("total", 0) < 0:
        raise DraftValidationError("must not be negative", path="/total")


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """The same test on PostgreSQL and on SQLite."""
    name = "db_url" if request.param == "postgresql" else "sqlite_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def make_autosave_app(make_app: Callable[..., Flask], any_db_url: str) -> Callable[..., Flask]:
    """``make_autosave_app(config, register=None)``: migrated, rate limits off, five kinds
    registered, and whatever ``register(res)`` adds before ``init_app``."""

    def factory(
        config: dict[str, Any] | None = None, register: Callable[[Resilience], Any] | None = None
    ) -> Flask:
        res = Resilience()
        res.autosave.register("note", owner=owner_from_key)
        res.autosave.register("quiz", owner=owner_from_key, schema=QUIZ_SCHEMA)
        res.autosave.register("calc", owner=owner_from_key, schema=positive_total)
        res.autosave.register("small", owner=owner_from_key, max_bytes=64)
        res.autosave.register("brief", owner=owner_from_key, ttl=60)
        if register is not None:
            register(res)
        res.user_loader(lambda: request.headers.get("X-User"))
        app = make_app(
            {"RESILIENCE_DATABASE_URL": any_db_url, "RATELIMIT_ENABLED": False, **(config or {})},
            init=False,
        )
        res.init_app(app)
        schema.upgrade(app)
        return app

    return factory


@pytest.fixture
def autosave_app(make_autosave_app: Callable[..., Flask]) -> Flask:
    return make_autosave_app()


@pytest.fixture
def client(autosave_app: Flask) -> FlaskClient:
    return autosave_app.test_client()


ALICE = {"X-User": "alice"}
URL = "/resilience/autosave/note/alice-1"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """``response`` is problem JSON with ``status``; returns the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body
