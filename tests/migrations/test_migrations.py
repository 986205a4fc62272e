"""The extension's Alembic history on PostgreSQL and SQLite, beside a host app's own history."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import inspect, text

from flask_resilience import get_state, schema
from flask_resilience.archive.catalog import partition_names
from flask_resilience.schema import VERSION_TABLE, metadata


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """The same test on PostgreSQL and on SQLite."""
    name = "db_url" if request.param == "postgresql" else "sqlite_url"
    return str(request.getfixturevalue(name))


def _tables(app: Flask) -> set[str]:
    """Table names, without partitions (the metric tables' DEFAULT and monthly children)."""
    engine = get_state(app).engine
    with engine.connect() as connection:
        partitions = partition_names(connection)
    return set(inspect(engine).get_table_names()) - partitions


def _host_tables(app: Flask) -> None:
    """A host app with its own Alembic history and a table of its own."""
    with get_state(app).engine.begin() as connection:
        connection.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"))
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('host_rev_1')"))


def test_upgrade_downgrade_upgrade_round_trip(
    make_app: Callable[..., Flask], any_db_url: str
) -> None:
    """Upgrade, downgrade to base and upgrade again leave exactly the models' tables."""
    app = make_app({"RESILIENCE_DATABASE_URL": any_db_url})
    model_tables = set(metadata.tables)
    assert model_tables and all(name.startswith("resilience_") for name in model_tables)

    schema.upgrade(app)
    assert _tables(app) == model_tables | {VERSION_TABLE}
    assert schema.current_revision(app) == schema.head_revision()

    schema.downgrade(app, "base")
    assert _tables(app) == {VERSION_TABLE}
    assert schema.current_revision(app) is None

    schema.upgrade(app)
    assert _tables(app) == model_tables | {VERSION_TABLE}
    assert schema.differences(app) == []
    get_state(app).engine.dispose()


def test_host_history_and_tables_are_untouched(
    make_app: Callable[..., Flask], any_db_url: str
) -> None:
    """The host's alembic_version and tables survive our upgrade and downgrade unchanged."""
    app = make_app({"RESILIENCE_DATABASE_URL": any_db_url})
    _host_tables(app)
    schema.upgrade(app)
    assert schema.differences(app) == []
    schema.downgrade(app, "base")
    with get_state(app).engine.connect() as connection:
        host_revision = connection.execute(text("SELECT version_num FROM alembic_version"))
        assert host_revision.scalar_one() == "host_rev_1"
    assert {"users", "alembic_version"} <= _tables(app)
    get_state(app).engine.dispose()


def test_autogenerate_notices_a_drifted_schema(
    make_app: Callable[..., Flask], any_db_url: str
) -> None:
    """differences() is not blind: dropping one of our tables is reported."""
    app = make_app({"RESILIENCE_DATABASE_URL": any_db_url})
    schema.upgrade(app)
    with get_state(app).engine.begin() as connection:
        connection.execute(text("DROP TABLE resilience_learned_rules"))
    diffs = schema.differences(app)
    assert diffs and diffs[0][0] == "add_table"
    assert diffs[0][1].name == "resilience_learned_rules"
    get_state(app).engine.dispose()


def test_migrations_path_holds_the_environment() -> None:
    """The Alembic environment is found whether installed from a wheel or a checkout."""
    path = schema.migrations_path()
    assert (path / "env.py").is_file()
    assert any((path / "versions").glob("*.py"))
