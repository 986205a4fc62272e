"""Month arithmetic and PostgreSQL partition DDL, as plain Python (no Flask, no connection).

Kept apart so the statements the archival service runs can be read, tested and reused by scripts
and the benchmark without an app. Every bound is a UTC month start, rendered with an explicit
``+00`` offset so the statement means the same thing whatever the session's ``TimeZone`` is.

>>> from datetime import date
>>> partition_name("resilience_metrics", date(2024, 1, 1))
'resilience_metrics_y2024m01'
>>> print(attach_sql("resilience_metrics_archive", "t", date(2024, 1, 1)))
ALTER TABLE "resilience_metrics_archive" ATTACH PARTITION "t" FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')
"""  # noqa: E501

from __future__ import annotations

import re
from datetime import UTC, date, datetime

LIVE_TABLE = "resilience_metrics"
ARCHIVE_TABLE = "resilience_metrics_archive"
DEFAULT_SUFFIX = "_default"
COLUMNS = ("id", "series", "step", "value", "recorded_at", "labels")
"""Every column, in table order: partitions move between tables only when these match exactly."""

_NAME = re.compile(r"_y(\d{4})m(\d{2})$")


def month_start(moment: datetime | date) -> date:
    """The first day of the UTC month holding ``moment`` (naive datetimes are taken as UTC)."""
    if isinstance(moment, datetime):
        moment = as_utc(moment).date()
    return moment.replace(day=1)


def add_months(month: date, count: int) -> date:
    """``month`` moved by ``count`` months (negative goes back); always a first of the month."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is assumed to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The half-open UTC range ``[first instant, first instant of the next month)``."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = add_months(month, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=UTC)


def partition_name(table: str, month: date) -> str:
    """``<table>_yYYYYmMM``: sortable, and short enough for PostgreSQL's 63-byte names."""
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def default_partition_name(table: str) -> str:
    return table + DEFAULT_SUFFIX


def month_of_name(name: str) -> date | None:
    """The month a ``..._yYYYYmMM`` name stands for, or None for any other name."""
    found = _NAME.search(name)
    return date(int(found.group(1)), int(found.group(2)), 1) if found else None


def month_of_range(lower: datetime | None, upper: datetime | None) -> date | None:
    """The month a partition holds when its bounds are exactly one UTC month, else None.

    Bounds come from the catalogue (see ``catalog.py``), already as timestamps: a hand-made
    partition spanning two months, or one open at either end, is not a month of ours.

    >>> month_of_range(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    datetime.date(2024, 2, 1)
    >>> month_of_range(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)) is None
    True
    """
    if lower is None or upper is None:
        return None
    month = month_start(lower)
    return month if month_bounds(month) == (as_utc(lower), as_utc(upper)) else None


def quote(identifier: str) -> str:
    """A double-quoted identifier; names here come from code, the quoting is belt and braces."""
    return '"' + identifier.replace('"', '""') + '"'


def _literal(moment: datetime) -> str:
    return "'" + as_utc(moment).strftime("%Y-%m-%d %H:%M:%S+00") + "'"


def bounds_clause(month: date) -> str:
    low, high = month_bounds(month)
    return f"FOR VALUES FROM ({_literal(low)}) TO ({_literal(high)})"


def bounds_predicate(month: date) -> str:
    """The partition constraint as a CHECK expression (``recorded_at`` is NOT NULL already)."""
    low, high = month_bounds(month)
    return f"recorded_at >= {_literal(low)} AND recorded_at < {_literal(high)}"


def check_name(table: str) -> str:
    return f"{table}_bounds"


def create_default_sql(parent: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(default_partition_name(parent))} "
        f"PARTITION OF {quote(parent)} DEFAULT"
    )


def create_standalone_sql(parent: str, table: str) -> str:
    """A plain table shaped like ``parent`` (columns and NOT NULLs, no identity, no indexes).

    It is filled and given its CHECK before it is attached, so the ATTACH neither scans it nor
    blocks writers for longer than a catalogue update.
    """
    return f"CREATE TABLE {quote(table)} (LIKE {quote(parent)})"


def add_check_sql(table: str, month: date, *, valid: bool) -> str:
    """``ADD CONSTRAINT ... CHECK``; ``valid=False`` adds it NOT VALID (no scan, brief lock)."""
    suffix = "" if valid else " NOT VALID"
    return (
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(check_name(table))} "
        f"CHECK ({bounds_predicate(month)}){suffix}"
    )


def validate_check_sql(table: str, constraint: str) -> str:
    """VALIDATE scans under SHARE UPDATE EXCLUSIVE: reads and writes of the table go on."""
    return f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(constraint)}"


def attach_sql(parent: str, table: str, month: date) -> str:
    return f"ALTER TABLE {quote(parent)} ATTACH PARTITION {quote(table)} {bounds_clause(month)}"


def detach_sql(parent: str, table: str) -> str:
    return f"ALTER TABLE {quote(parent)} DETACH PARTITION {quote(table)}"


def rename_sql(table: str, new_name: str) -> str:
    return f"ALTER TABLE {quote(table)} RENAME TO {quote(new_name)}"


def lock_sql(table: str, mode: str) -> str:
    return f"LOCK TABLE {quote(table)} IN {mode} MODE"


def move_rows_sql(source: str, target: str, month: date, *, limit: int | None = None) -> str:
    """Move one month's rows from ``source`` to ``target`` in a single statement (no gap);
    with ``limit``, at most that many (a batch)."""
    columns = ", ".join(COLUMNS)
    where = bounds_predicate(month)
    if limit is not None:
        where = f"ctid IN (SELECT ctid FROM {quote(source)} WHERE {where} LIMIT {int(limit)})"
    return (
        f"WITH moved AS (DELETE FROM {quote(source)} WHERE {where} "
        f"RETURNING {columns}) INSERT INTO {quote(target)} ({columns}) SELECT {columns} FROM moved"
    )


def drop_sql(table: str) -> str:
    return f"DROP TABLE {quote(table)}"


__all__ = [
    "ARCHIVE_TABLE",
    "COLUMNS",
    "LIVE_TABLE",
    "add_check_sql",
    "add_months",
    "as_utc",
    "attach_sql",
    "bounds_clause",
    "bounds_predicate",
    "check_name",
    "create_default_sql",
    "create_standalone_sql",
    "default_partition_name",
    "detach_sql",
    "drop_sql",
    "lock_sql",
    "month_bounds",
    "month_of_name",
    "month_of_range",
    "month_start",
    "move_rows_sql",
    "partition_name",
    "quote",
    "rename_sql",
    "validate_check_sql",
]
