"""Alembic environment of flask-resilience's tables (version table ``resilience_alembic_version``).

Run through ``flask resilience db ...`` or ``flask_resilience.schema``; both hand this environment
an open connection. Plain ``alembic -c`` use is supported with ``-x url=...``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from flask_resilience.schema import VERSION_TABLE, include_object, include_object_for, metadata

config = context.config


def _configure(connection: object) -> None:
    dialect = getattr(connection, "dialect", None)
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=include_object_for(connection),  # type: ignore[arg-type]
        compare_type=True,
        render_as_batch=getattr(dialect, "name", "") == "sqlite",
    )


def run_migrations_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url")
    context.configure(
        url=url,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit(
            "pass the database URL: alembic -x url=postgresql+psycopg://... upgrade head"
        )
    engine = create_engine(url)
    with engine.begin() as own_connection:
        _configure(own_connection)
        context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
