"""The extension's own SQLAlchemy ``MetaData``, declarative base and engine factory.

The extension keeps its tables in its own ``MetaData`` (every name prefixed ``resilience_``) so its
Alembic history never touches, or is touched by, the host app's models.
"""

from __future__ import annotations

import os

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase

TABLE_PREFIX = "resilience_"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base of every model the extension owns."""

    metadata = metadata


def create_database_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine with ``pool_pre_ping`` so a restarted database does not fail the next request.

    SQLite gets WAL and a busy timeout, since the embedded demo writes from request threads and the
    in-process worker at once; its parent folder is created so a fresh instance folder just works.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow, future=True
    )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
