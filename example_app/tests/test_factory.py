"""The app factory: embedded start-up, idempotent seeding, secret keys, production guard."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from example_app.db import database
from example_app.models import Category, Option, Question, Quiz, User

from .conftest import AppFactory

MODELS = (User, Category, Quiz, Question, Option)


def row_counts(app: Flask) -> dict[str, int]:
    with database(app).sessions() as session:
        return {
            m.__name__: session.scalar(select(func.count()).select_from(m)) or 0 for m in MODELS
        }


def test_embedded_app_starts_migrated_and_seeded(embedded_app: Flask) -> None:
    """An embedded app answers the extension's health check and has the demo data at once."""
    client = embedded_app.test_client()
    assert client.get("/healthz").status_code == 200
    counts = row_counts(embedded_app)
    assert counts["User"] == 3
    assert counts["Category"] == 3
    assert counts["Quiz"] >= 3


def test_seeding_twice_adds_nothing(make_example_app: AppFactory, sqlite_url: str) -> None:
    """Building the app twice on the same database leaves the same row counts."""
    first = row_counts(make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url}))
    second = row_counts(make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url}))
    assert first == second


def test_init_command_is_idempotent(embedded_app: Flask) -> None:
    """``flask init`` on an already seeded database reports nothing added and succeeds."""
    result = embedded_app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "added 0 users, 0 categories, 0 quizzes" in result.output


def test_embedded_secret_key_is_stored_privately_and_reused(
    make_example_app: AppFactory, sqlite_url: str, tmp_path: Path
) -> None:
    """Without EXAMPLE_SECRET_KEY the embedded app keeps one key in a 0600 instance file."""
    first = make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    second = make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert len(first.config["SECRET_KEY"]) >= 32


def test_secret_key_comes_from_the_environment(
    make_example_app: AppFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXAMPLE_SECRET_KEY becomes SECRET_KEY and no instance file is written."""
    monkeypatch.setenv("EXAMPLE_SECRET_KEY", "from-the-environment")
    app = make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (Path(app.instance_path) / "secret_key").exists()


def test_empty_secret_key_is_refused(
    make_example_app: AppFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An EXAMPLE_SECRET_KEY that came through empty is an error, never silently replaced."""
    monkeypatch.setenv("EXAMPLE_SECRET_KEY", "")
    with pytest.raises(RuntimeError, match="EXAMPLE_SECRET_KEY is set but empty"):
        make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})


def test_production_mode_refuses_to_start_without_secret_key(
    make_example_app: AppFactory, db_url: str, redis_url: str
) -> None:
    """With a Redis URL (production mode) and no EXAMPLE_SECRET_KEY the factory raises."""
    with pytest.raises(RuntimeError, match="EXAMPLE_SECRET_KEY"):
        make_example_app({"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_url})


def test_production_mode_is_read_from_the_environment(
    make_example_app: AppFactory, db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RESILIENCE_REDIS_URL in the environment alone is enough to demand a secret key."""
    monkeypatch.setenv("RESILIENCE_REDIS_URL", redis_url)
    with pytest.raises(RuntimeError, match="production mode"):
        make_example_app({"RESILIENCE_DATABASE_URL": db_url})


def test_malformed_example_setting_is_refused(
    make_example_app: AppFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed EXAMPLE_PORT fails start-up naming the variable."""
    monkeypatch.setenv("EXAMPLE_PORT", "eighty")
    with pytest.raises(RuntimeError, match="EXAMPLE_PORT='eighty'"):
        make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})


def test_example_settings_keep_their_prefix(
    make_example_app: AppFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXAMPLE_PORT lands in app.config["EXAMPLE_PORT"] as an int, not in "PORT"."""
    monkeypatch.setenv("EXAMPLE_PORT", "8123")
    app = make_example_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    assert app.config["EXAMPLE_PORT"] == 8123
    assert "PORT" not in app.config
