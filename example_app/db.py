"""The example app's own tables and the per-request session that reads and writes them.

The app keeps its models in its own ``MetaData`` (every table prefixed ``example_``) but on the
extension's engine, which is how we tell users to share one database with flask-resilience without
mixing their schema into the extension's Alembic history.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

EXTENSION_KEY = "example_app"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Base(DeclarativeBase):
    """Declarative base of the example app's models (never the extension's)."""

    metadata = metadata


@dataclass(frozen=True, slots=True)
class Database:
    """Per-app database handles, kept in ``app.extensions`` so several apps never share them."""

    engine: Engine
    sessions: sessionmaker[Session]


def init_app(app: Flask, engine: Engine) -> None:
    """Bind the app's sessions to ``engine`` and close each request's session at teardown."""
    app.extensions[EXTENSION_KEY] = Database(engine, sessionmaker(engine, expire_on_commit=False))
    app.teardown_appcontext(_close_session)


def database(app: Flask | None = None) -> Database:
    """The database handles of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    return target.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def get_session() -> Session:
    """The session of the current app context, opened on first use and closed at teardown."""
    if "example_session" not in g:
        g.example_session = database().sessions()
    return g.example_session  # type: ignore[no-any-return]


def create_tables(app: Flask) -> None:
    """Create the app's tables that are missing; the demo has no migrations of its own."""
    from . import models  # noqa: F401  (registers the tables on ``metadata``)

    metadata.create_all(database(app).engine)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("example_session", None)
    if session is not None:
        session.close()
