"""The metric tables: ``resilience_metrics`` (live) and ``resilience_metrics_archive``.

Both have the same columns and indexes, so a month can leave one and join the other as a
partition without a row being copied. On PostgreSQL both are ``PARTITION BY RANGE (recorded_at)``;
the primary key is ``(id, recorded_at)`` because a unique key on a partitioned table must contain
the partition key. The archive's ``id`` has no identity: its rows keep the ids they were given live.

On SQLite both are plain tables and ``id INTEGER PRIMARY KEY AUTOINCREMENT`` is the rowid.
AUTOINCREMENT matters: without it SQLite hands out ``max(rowid) + 1``, so once the newest rows
have been archived their ids are given again to new live rows, and the next archival of those
rows collides with the archived copies (``UNIQUE constraint failed``). Migration ``0004`` creates
exactly these tables; ``tests/archive/test_schema.py`` compares the two.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles

from .._foundation.database import metadata
from .partitions import ARCHIVE_TABLE, LIVE_TABLE

ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")
"""INTEGER on SQLite makes ``id`` the rowid, numbered by SQLite itself."""
LABELS_TYPE = JSON().with_variant(JSONB(), "postgresql")


class SQLiteRowId(CheckConstraint):
    """Renders ``PRIMARY KEY AUTOINCREMENT`` on SQLite and nothing elsewhere.

    SQLAlchemy has one primary key per ``Table`` for every dialect, and SQLite allows
    AUTOINCREMENT only on a single-column ``INTEGER PRIMARY KEY``. The table's key is the one
    PostgreSQL needs, ``(id, recorded_at)``, created on PostgreSQL only; on SQLite this column
    constraint makes ``id`` alone the key. It is a compiler extension on this class only, so no
    other table's DDL changes.
    """

    inherit_cache = True

    def __init__(self) -> None:
        super().__init__(text("1"), name="rowid")


@compiles(SQLiteRowId)
def _no_rowid(element: SQLiteRowId, compiler: Any, **kw: Any) -> str:
    return ""


@compiles(SQLiteRowId, "sqlite")
def _sqlite_rowid(element: SQLiteRowId, compiler: Any, **kw: Any) -> str:
    return "PRIMARY KEY AUTOINCREMENT"


def _metric_table(name: str, *, identity: bool) -> Table:
    id_options = (Identity(),) if identity else ()
    return Table(
        name,
        metadata,
        Column("id", ID_TYPE, *id_options, SQLiteRowId(), nullable=False),
        Column("series", Text(), nullable=False),
        Column("step", BigInteger(), nullable=True),
        Column("value", Double(), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("labels", LABELS_TYPE, nullable=True),
        PrimaryKeyConstraint("id", "recorded_at", name=f"pk_{name}").ddl_if(dialect="postgresql"),
        Index(f"ix_{name}_series_step", "series", "step"),
        Index(
            f"ix_{name}_series_recorded_at", "series", "recorded_at", postgresql_include=["value"]
        ),
        postgresql_partition_by="RANGE (recorded_at)",
    )


metrics = _metric_table(LIVE_TABLE, identity=True)
metrics_archive = _metric_table(ARCHIVE_TABLE, identity=False)

__all__ = ["SQLiteRowId", "metrics", "metrics_archive"]
