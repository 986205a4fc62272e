"""The extension's database schema: every model's tables and the Alembic environment for them.

The Alembic history is the extension's own, recorded in ``resilience_alembic_version``, so it lives
beside a host app's Alembic or Flask-Migrate history without touching it. The environment ships in
the wheel (as ``flask_resilience/_migrations``) and is read from the repository's ``migrations/``
folder in a source checkout.

>>> from flask import Flask
>>> from flask_resilience import Resilience, schema
>>> app = Flask(__name__)
>>> app.config["RESILIENCE_DATABASE_URL"] = "sqlite://"
>>> _ = Resilience(app)
>>> schema.upgrade(app)
>>> schema.current_revision(app) == schema.head_revision()
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.engine import Connection, Engine

from ._foundation.database import TABLE_PREFIX, metadata
from .archive import models as _archive_models  # noqa: F401  (registers tables)
from .archive.catalog import partition_names
from .autosave import models as _autosave_models  # noqa: F401  (registers tables)
from .jobs import models as _jobs_models  # noqa: F401  (registers tables)
from .resilient import models as _resilient_models  # noqa: F401  (registers tables)
from .state import CheckResult, ReadinessCheck, ResilienceState, get_state

VERSION_TABLE = "resilience_alembic_version"
IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]

__all__ = [
    "VERSION_TABLE",
    "alembic_config",
    "current_revision",
    "differences",
    "downgrade",
    "head_revision",
    "include_object",
    "include_object_for",
    "metadata",
    "migrations_path",
    "upgrade",
]


def migrations_path() -> Path:
    """The folder of the Alembic environment: packaged in a wheel, ``migrations/`` in a checkout."""
    packaged = Path(str(resources.files("flask_resilience") / "_migrations"))
    if (packaged / "env.py").is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the extension's environment, optionally bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.attributes["connection"] = connection
    return config


def include_object(
    obj: Any,
    name: str | None,
    type_: str,
    reflected: bool,
    compare_to: Any,
    *,
    partitions: frozenset[str] = frozenset(),
) -> bool:
    """Autogenerate sees only the extension's own tables, never the host app's, nor partitions.

    Partitions reflect as ordinary tables, so without this autogenerate proposes dropping every
    monthly partition (sqlalchemy/alembic#539). They are recognised by catalogue state
    (``pg_class.relispartition``, passed in as ``partitions`` by :func:`include_object_for`), not
    by name, so a renamed or hand-made partition is skipped too. Unnamed constraints arrive with
    ``name=None`` and are kept.
    """
    if type_ == "table":
        if not name or (reflected and name in partitions):
            return False
        return name.startswith(TABLE_PREFIX) and name != VERSION_TABLE
    return True


def include_object_for(connection: Connection | None) -> IncludeObject:
    """``include_object`` bound to the partitions that exist in ``connection``'s schemas now."""
    partitions = partition_names(connection) if connection is not None else frozenset()

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return include_object(obj, name, type_, reflected, compare_to, partitions=partitions)

    return include


def upgrade(app: Flask, revision: str = "head") -> None:
    """Apply the extension's migrations up to ``revision`` in one transaction."""
    with _engine(app).begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(app: Flask, revision: str) -> None:
    """Revert the extension's migrations down to ``revision`` (``base`` removes every table)."""
    with _engine(app).begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    """The newest revision shipped with this version of the extension."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(app: Flask) -> str | None:
    """The revision the app's database is at, or None before the first upgrade."""
    with _engine(app).connect() as connection:
        return _migration_context(connection).get_current_revision()


def differences(app: Flask) -> list[Any]:
    """What autogenerate would change: empty when the database matches the models."""
    with _engine(app).connect() as connection:
        return list(compare_metadata(_migration_context(connection), metadata))


def migrations_readiness_check(state: ResilienceState) -> ReadinessCheck:
    """A readiness check that fails (critically) when the database is behind the shipped head."""
    head = head_revision()

    def check() -> CheckResult:
        started = time.perf_counter()
        with state.engine.connect() as connection:
            current = _migration_context(connection).get_current_revision()
        latency = (time.perf_counter() - started) * 1000
        if current == head:
            return CheckResult(ok=True, critical=True, latency_ms=latency, detail=f"at {head}")
        return CheckResult(
            ok=False,
            critical=True,
            latency_ms=latency,
            detail=f"database at {current or 'no revision'}, head is {head}: "
            "run `flask resilience db upgrade`",
        )

    return check


def _migration_context(connection: Connection) -> MigrationContext:
    return MigrationContext.configure(
        connection,
        opts={
            "version_table": VERSION_TABLE,
            "include_object": include_object_for(connection),
            "compare_type": True,
        },
    )


def _engine(app: Flask) -> Engine:
    return get_state(app).engine
