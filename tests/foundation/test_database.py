"""The extension's own engine and metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from flask_resilience import get_state
from flask_resilience._foundation.database import TABLE_PREFIX, metadata


def test_engine_uses_pre_ping_and_configured_pool(
    make_app: Callable[..., Flask], db_url: str
) -> None:
    """Pool size and overflow come from config; pre-ping survives a restarted database."""
    app = make_app(
        {
            "RESILIENCE_DATABASE_URL": db_url,
            "RESILIENCE_DATABASE_POOL_SIZE": 3,
            "RESILIENCE_DATABASE_MAX_OVERFLOW": "4",
        }
    )
    engine = get_state(app).engine
    assert engine.pool._pre_ping is True  # type: ignore[attr-defined]
    assert engine.pool.size() == 3  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 4  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_default_sqlite_file_is_created_in_the_instance_folder(
    make_app: Callable[..., Flask],
) -> None:
    """The embedded default database is a file in the app's instance folder, created on use."""
    app = make_app()
    engine = get_state(app).engine
    with engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
    assert mode == "wal"
    assert (Path(app.instance_path) / "resilience.sqlite3").is_file()
    engine.dispose()


def test_every_table_is_prefixed() -> None:
    """The extension's MetaData holds only resilience_* tables."""
    assert metadata.tables
    assert all(name.startswith(TABLE_PREFIX) for name in metadata.tables)
