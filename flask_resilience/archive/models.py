"""The metric tables: ``resilience_metrics`` (live) and ``resilience_metrics_archive``.

Both have the same columns and indexes, so a month can leave one and join the other as a
partition without a row being copied. On PostgreSQL both are ``PARTITION BY RANGE (recorded_at)``;
the primary key is ``(id, recorded_at)`` because a unique key on a partitioned table must contain
the partition key. The archive's ``id`` has no identity: its rows keep the ids they were given live.
On SQLite both are plain tables and ``id`` is the rowid.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from .._foundation.database import metadata
from .partitions import ARCHIVE_TABLE, LIVE_TABLE

ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")
"""INTEGER on SQLite makes ``id`` the rowid, numbered by SQLite itself."""
LABELS_TYPE = JSON().with_variant(JSONB(), "postgresql")


def _metric_table(name: str, *, identity: bool) -> Table:
    id_column = (
        Column("id", ID_TYPE, Identity(), nullable=False)
        if identity
        else Column("id", ID_TYPE, nullable=False)
    )
    return Table(
        name,
        metadata,
        id_column,
        Column("series", Text(), nullable=False),
        Column("step", BigInteger(), nullable=True),
        Column("value", Double(), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("labels", LABELS_TYPE, nullable=True),
        PrimaryKeyConstraint("id", "recorded_at", name=f"pk_{name}"),
        Index(f"ix_{name}_series_step", "series", "step"),
        Index(
            f"ix_{name}_series_recorded_at", "series", "recorded_at", postgresql_include=["value"]
        ),
        postgresql_partition_by="RANGE (recorded_at)",
    )


metrics = _metric_table(LIVE_TABLE, identity=True)
metrics_archive = _metric_table(ARCHIVE_TABLE, identity=False)

__all__ = ["metrics", "metrics_archive"]
