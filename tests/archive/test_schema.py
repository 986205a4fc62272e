"""Autogenerate stays clean with partitions present; models and migration 0004 agree; the
daily task runs end to end."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.schema import CreateTable

from flask_resilience import Resilience, get_state, schema
from flask_resilience.archive.models import metrics, metrics_archive
from flask_resilience.archive.tasks import archive_old_metrics
from flask_resilience.cli import resilience_group
from flask_resilience.schema import include_object

from .conftest import JAN

App = tuple[Flask, Resilience]


def test_db_check_is_clean_with_partitions(pg: App) -> None:
    """Live, DEFAULT and archived partitions cause no autogenerate difference."""
    app, res = pg
    with app.app_context():
        res.metrics.record_many([("s", 1.0, i, JAN + timedelta(days=i)) for i in range(60)])
        res.metrics.archive(timedelta(days=1), now=JAN + timedelta(days=70))
        assert len(res.metrics.partitions()) >= 5
    assert schema.differences(app) == []
    result = app.test_cli_runner().invoke(resilience_group, ["db", "check"])
    assert result.exit_code == 0 and "no difference" in result.output


def test_include_object_tolerates_unnamed_objects() -> None:
    """An unnamed constraint is kept and an unnamed or partition table is skipped."""
    assert include_object(None, None, "unique_constraint", True, None)
    assert not include_object(None, None, "table", True, None)
    partitions = frozenset({"resilience_metrics_anything"})
    assert not include_object(
        None, "resilience_metrics_anything", "table", True, None, partitions=partitions
    )
    assert include_object(None, "resilience_metrics", "table", True, None, partitions=partitions)


def test_archive_old_metrics_task(pg: App) -> None:
    """The daily task premakes partitions and archives months older than the configured age."""
    app, res = pg
    with app.app_context():
        res.metrics.record_many([("s", 1.0, i, JAN + timedelta(days=i)) for i in range(10)])
    report = archive_old_metrics(app)
    assert report["archive"]["rows_moved"] == 10
    assert report["ensure"]["default_rows"] == 0


def _normalised(sql: str) -> str:
    return " ".join(sql.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split())


def test_models_and_migration_agree_on_sqlite(make_app: object, sqlite_url: str) -> None:
    """On SQLite the migration creates exactly the tables the models describe: id the rowid,
    INTEGER PRIMARY KEY AUTOINCREMENT (so ids of archived rows are never reused)."""
    from .conftest import build

    app, _ = build(make_app, sqlite_url)  # type: ignore[arg-type]
    engine = get_state(app).engine
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE name IN (:live, :archive)"),
                {"live": metrics.name, "archive": metrics_archive.name},
            ).all()
        )
    for table in (metrics, metrics_archive):
        modelled = str(CreateTable(table).compile(dialect=engine.dialect)).strip()
        assert _normalised(stored[table.name]) == _normalised(modelled)
        assert "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT" in stored[table.name]
        assert inspect(engine).get_pk_constraint(table.name)["constrained_columns"] == ["id"]


def test_models_and_migration_agree_on_postgresql(pg: App) -> None:
    """On PostgreSQL both tables' key is (id, recorded_at), as the models declare."""
    app, _ = pg
    inspector = inspect(get_state(app).engine)
    for table in (metrics, metrics_archive):
        key = inspector.get_pk_constraint(table.name)
        assert key["constrained_columns"] == [c.name for c in table.primary_key.columns]
        assert key["name"] == table.primary_key.name == f"pk_{table.name}"
