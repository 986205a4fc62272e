"""What PostgreSQL's catalogue says about the metric tables' partitions.

Partitions are recognised by ``pg_inherits`` and their bounds read back from ``relpartbound``, not
inferred from names: a renamed or hand-made partition is still seen for what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from .partitions import month_of_bounds, month_start, quote

_PARTITIONS = text(
    """
    SELECT child.relname AS name,
           pg_get_expr(child.relpartbound, child.oid) AS bounds,
           child.reltuples::bigint AS estimated_rows,
           pg_total_relation_size(child.oid) AS size_bytes
    FROM pg_inherits i
    JOIN pg_class parent ON parent.oid = i.inhparent
    JOIN pg_class child ON child.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = parent.relnamespace
    WHERE parent.relname = :parent AND parent.relkind = 'p'
      AND n.nspname = ANY (current_schemas(false))
    ORDER BY child.relname
    """
)

_ALL_PARTITIONS = text(
    """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relispartition AND n.nspname = ANY (current_schemas(false))
    """
)


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One partition: ``month`` is None for the DEFAULT partition."""

    table: str
    name: str
    month: date | None
    lower: datetime | None
    upper: datetime | None
    rows: int
    size_bytes: int

    @property
    def is_default(self) -> bool:
        return self.month is None

    def as_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "name": self.name,
            "month": self.month.isoformat() if self.month else None,
            "from": self.lower.isoformat() if self.lower else None,
            "to": self.upper.isoformat() if self.upper else None,
            "rows": self.rows,
            "size_bytes": self.size_bytes,
        }


def partition_names(connection: Connection) -> frozenset[str]:
    """Every table and index in the search path that is a partition (``relispartition``)."""
    if connection.dialect.name != "postgresql":
        return frozenset()
    return frozenset(connection.execute(_ALL_PARTITIONS).scalars())


def list_partitions(
    connection: Connection, parent: str, *, exact_counts: bool = True
) -> list[PartitionInfo]:
    """The partitions of ``parent``, oldest month first and DEFAULT last.

    ``exact_counts`` runs ``count(*)`` per partition; without it ``reltuples`` (as of the last
    ANALYZE, -1 when never analysed) stands in, which costs nothing on a big table.
    """
    found = []
    for row in connection.execute(_PARTITIONS, {"parent": parent}):
        bounds = month_of_bounds(row.bounds)
        rows = int(row.estimated_rows)
        if exact_counts:
            rows = count_rows(connection, row.name)
        found.append(
            PartitionInfo(
                table=parent,
                name=row.name,
                month=month_start(bounds[0]) if bounds else None,
                lower=bounds[0] if bounds else None,
                upper=bounds[1] if bounds else None,
                rows=rows,
                size_bytes=int(row.size_bytes),
            )
        )
    found.sort(key=lambda info: (info.month is None, info.month or date.min))
    return found


def count_rows(connection: Connection, table: str) -> int:
    return int(connection.execute(text(f"SELECT count(*) FROM {quote(table)}")).scalar_one())


def months_in(connection: Connection, table: str) -> list[date]:
    """The UTC months that rows of ``table`` fall in (used on the DEFAULT partition)."""
    query = text(
        "SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'UTC')::date AS month "
        f"FROM {quote(table)} ORDER BY month"
    )
    return list(connection.execute(query).scalars())


__all__ = ["PartitionInfo", "count_rows", "list_partitions", "months_in", "partition_names"]
