"""What PostgreSQL's catalogue says about the metric tables' partitions.

Partitions are recognised by ``pg_inherits`` and their bounds read back from ``relpartbound``, not
inferred from names: a renamed or hand-made partition is still seen for what it is. The bounds
are rendered by PostgreSQL under a pinned ``DateStyle`` and ``TimeZone``, turned back into
timestamps by PostgreSQL itself and handed over as UTC text in one fixed format, so nothing
depends on the session's settings. A partition that is not one UTC month (several months, MINVALUE,
MAXVALUE, infinity) is reported as ``kind="other"`` and left alone by archival and ``ensure``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection, Row

from .partitions import month_bounds, month_of_range, quote

Kind = Literal["month", "default", "other"]
"""A partition of exactly one UTC month (ours), the DEFAULT one, or anything else (hand-made)."""

_PARTITIONS = text(
    r"""
    SELECT child.relname AS name,
           b.expr AS bounds,
           CASE WHEN isfinite(t.lower) THEN
                to_char(t.lower AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') END AS lower,
           CASE WHEN isfinite(t.upper) THEN
                to_char(t.upper AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') END AS upper,
           child.reltuples::bigint AS estimated_rows,
           pg_total_relation_size(child.oid) AS size_bytes
    FROM pg_inherits i
    JOIN pg_class parent ON parent.oid = i.inhparent
    JOIN pg_class child ON child.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = parent.relnamespace
    CROSS JOIN LATERAL (
        SELECT e.expr, regexp_match(
            e.expr, '^FOR VALUES FROM \((MINVALUE|''[^'']*'')\) TO \((MAXVALUE|''[^'']*'')\)$'
        ) AS parts
        FROM (SELECT pg_get_expr(child.relpartbound, child.oid) AS expr) AS e
    ) AS b
    CROSS JOIN LATERAL (
        SELECT CASE WHEN b.parts[1] LIKE '''%' THEN btrim(b.parts[1], '''')::timestamptz END
                   AS lower,
               CASE WHEN b.parts[2] LIKE '''%' THEN btrim(b.parts[2], '''')::timestamptz END
                   AS upper
    ) AS t
    WHERE parent.relname = :parent AND parent.relkind = 'p'
      AND n.nspname = ANY (current_schemas(false))
    ORDER BY child.relname
    """
)
"""Bounds come back as UTC text in one fixed format: the literal ``pg_get_expr`` wrote is cast
back and re-rendered with ``to_char``; MINVALUE, MAXVALUE and infinity give NULL. Run it through
``_catalogue_rows``, which pins the DateStyle and TimeZone the literal is written in."""

_ALL_PARTITIONS = text(
    """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relispartition AND n.nspname = ANY (current_schemas(false))
    """
)


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One partition; ``month`` is set only for a partition of exactly one UTC month.

    ``kind`` says what it is: ``"month"`` (what ``ensure`` and archival make), ``"default"``, or
    ``"other"``, a hand-made partition spanning several months or open at one end (``lower`` or
    ``upper`` None), which archival and ``ensure`` leave alone. ``bounds`` is the catalogue's text.
    """

    table: str
    name: str
    month: date | None
    lower: datetime | None
    upper: datetime | None
    rows: int
    size_bytes: int
    kind: Kind = "month"
    bounds: str = ""

    @property
    def is_default(self) -> bool:
        return self.kind == "default"

    def overlaps(self, month: date) -> bool:
        """Whether this partition's bound takes in any instant of ``month`` (DEFAULT's does not)."""
        if self.kind == "default":
            return False
        start, end = month_bounds(month)
        below = self.lower is None or self.lower < end
        return below and (self.upper is None or self.upper > start)

    def as_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "name": self.name,
            "kind": self.kind,
            "month": self.month.isoformat() if self.month else None,
            "from": self.lower.isoformat() if self.lower else None,
            "to": self.upper.isoformat() if self.upper else None,
            "bounds": self.bounds,
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
    """The partitions of ``parent``, oldest first and DEFAULT last.

    ``exact_counts`` runs ``count(*)`` per partition; without it ``reltuples`` (as of the last
    ANALYZE, -1 when never analysed) stands in, which costs nothing on a big table.
    """
    found = []
    for row in _catalogue_rows(connection, parent):
        rows = count_rows(connection, row.name) if exact_counts else int(row.estimated_rows)
        lower, upper = _utc(row.lower), _utc(row.upper)
        month = month_of_range(lower, upper)
        kind: Kind = "default" if row.bounds == "DEFAULT" else "month" if month else "other"
        found.append(
            PartitionInfo(
                table=parent,
                name=row.name,
                month=month,
                lower=lower,
                upper=upper,
                rows=rows,
                size_bytes=int(row.size_bytes),
                kind=kind,
                bounds=row.bounds,
            )
        )
    found.sort(key=_oldest_first)
    return found


def _catalogue_rows(connection: Connection, parent: str) -> list[Row[Any]]:
    """Run ``_PARTITIONS`` with DateStyle ISO and TimeZone UTC, then put the session back.

    Other DateStyles render bounds with zone abbreviations, and those do not read back reliably
    (``IST`` is Israel's, not India's, to PostgreSQL's parser). ``SET LOCAL`` in a savepoint
    that is rolled back leaves the caller's session and transaction as they were.
    """
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql("SET LOCAL DateStyle = 'ISO'")
        connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        return list(connection.execute(_PARTITIONS, {"parent": parent}))
    finally:
        savepoint.rollback()


def _utc(value: str | None) -> datetime | None:
    """A bound as rendered by ``_PARTITIONS``; None when open (or beyond Python's years)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def _oldest_first(info: PartitionInfo) -> tuple[bool, datetime, str]:
    return (info.is_default, info.lower or datetime.min.replace(tzinfo=UTC), info.name)


def covered(partitions: list[PartitionInfo], month: date) -> bool:
    """Whether a partition other than DEFAULT already takes in instants of ``month``."""
    return any(info.overlaps(month) for info in partitions)


def count_rows(connection: Connection, table: str) -> int:
    return int(connection.execute(text(f"SELECT count(*) FROM {quote(table)}")).scalar_one())


def months_in(connection: Connection, table: str) -> list[date]:
    """The UTC months that rows of ``table`` fall in (used on the DEFAULT partition)."""
    query = text(
        "SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'UTC')::date AS month "
        f"FROM {quote(table)} ORDER BY month"
    )
    return list(connection.execute(query).scalars())


__all__ = [
    "PartitionInfo",
    "count_rows",
    "covered",
    "list_partitions",
    "months_in",
    "partition_names",
]
