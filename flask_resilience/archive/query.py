"""Writing and reading metric points over the live and archive tables as if they were one.

Reads are one ``UNION ALL`` of the two tables with the same ``series`` and time predicates on
both sides, so PostgreSQL prunes each side to the partitions the range touches and, with ORDER BY
+ LIMIT, merges the two index scans instead of sorting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, Table, and_, case, func, literal, select, text, union_all
from sqlalchemy.engine import Connection

from .models import metrics, metrics_archive
from .partitions import as_utc

Order = Literal["time", "step"]
COPY_MIN_ROWS = 64
"""Below this a plain INSERT is cheaper than setting up a COPY."""
Row = tuple[str, int | None, float, datetime, dict[str, Any] | None]
"""(series, step, value, recorded_at, labels): one point ready to insert."""

_BUCKET = re.compile(r"^\s*(\d*)\s*(minute|hour|day|week|month)s?\s*$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_EPOCH_MONDAY = 345600
"""1970-01-05 00:00 UTC, a Monday: weekly buckets start on Mondays, like date_trunc('week')."""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One recorded value; ``archived`` says which table it came from."""

    series: str
    step: int | None
    value: float
    recorded_at: datetime
    labels: dict[str, Any] | None = None
    archived: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "value": self.value,
            "recorded_at": self.recorded_at.isoformat(),
            "labels": self.labels,
            "archived": self.archived,
        }


@dataclass(frozen=True, slots=True)
class MetricBucket:
    """Aggregates of one series over one time bucket (``start`` is the bucket's first instant)."""

    start: datetime
    count: int
    min: float
    max: float
    avg: float

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "count": self.count,
            "min": self.min,
            "max": self.max,
            "avg": self.avg,
        }


def make_row(
    series: str,
    value: float,
    step: int | None = None,
    at: datetime | None = None,
    labels: Mapping[str, Any] | None = None,
) -> Row:
    """Validate one point; ``at`` defaults to now and is stored as UTC."""
    check_series(series)
    moment = as_utc(at) if at is not None else datetime.now(UTC)
    return (series, None if step is None else int(step), float(value), moment, _labels(labels))


def check_series(series: object) -> None:
    """A series name is a non-empty string without NUL, which PostgreSQL text cannot hold
    (SQLite would store it, so both reject it alike)."""
    if not isinstance(series, str) or not series:
        raise ValueError("series must be a non-empty string such as 'training:42'")
    if "\0" in series:
        raise ValueError(f"series must not contain NUL characters: {series!r}")


def coerce_row(item: Mapping[str, Any] | Sequence[Any]) -> Row:
    """A mapping ``{series, value, step?, at?, labels?}`` or a tuple in that order."""
    if isinstance(item, Mapping):
        at = item.get("at", item.get("recorded_at"))
        return make_row(item["series"], item["value"], item.get("step"), at, item.get("labels"))
    return make_row(*item)


def insert_rows(connection: Connection, rows: Sequence[Row]) -> int:
    """Insert ``rows`` into the live table: COPY on psycopg 3, batched VALUES elsewhere."""
    if not rows:
        return 0
    copy = connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"
    if copy and len(rows) >= COPY_MIN_ROWS:
        return _copy_rows(connection, rows)
    keys = ("series", "step", "value", "recorded_at", "labels")
    connection.execute(metrics.insert(), [dict(zip(keys, row, strict=True)) for row in rows])
    return len(rows)


def _copy_rows(connection: Connection, rows: Sequence[Row]) -> int:
    """COPY is several times faster than multi-row INSERT and routes rows to partitions too."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    statement = "COPY resilience_metrics (series, step, value, recorded_at, labels) FROM STDIN"
    with cursor.copy(statement) as copy:
        for series, step, value, moment, labels in rows:
            copy.write_row((series, step, value, moment, _json(labels)))
    cursor.close()
    return len(rows)


def points_query(
    series: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    include_archived: bool = True,
    limit: int | None = None,
    order: Order = "time",
    descending: bool = False,
) -> Select[Any]:
    """The statement behind ``query``: exposed so tests and operators can EXPLAIN it.

    With a ``limit`` each table is ordered and limited on its own before the two are merged.
    PostgreSQL 15 does not push an outer ORDER BY into a UNION ALL arm that is itself a
    partitioned table, so ``(live UNION ALL archive) ORDER BY .. LIMIT`` fetches and sorts every
    point of the series; per-table ``ORDER BY .. LIMIT`` is a Merge Append of backward index
    scans per table that stops after ``limit`` rows, and the outer sort sees at most 2 x limit.
    """
    check_series(series)
    if order not in ("time", "step"):
        raise ValueError("order is 'time' or 'step'")
    parts = [_side(metrics, series, start, end, False, order, descending, limit)]
    if include_archived:
        parts.append(_side(metrics_archive, series, start, end, True, order, descending, limit))
    combined = union_all(*parts).subquery("points") if len(parts) > 1 else parts[0].subquery()
    statement = select(combined).order_by(_key(combined.c, order, descending))
    return statement.limit(limit) if limit is not None else statement


def _key(columns: Any, order: Order, descending: bool) -> Any:
    """One sort column: what the (series, recorded_at) / (series, step) index yields in order;
    a tie-breaker would not be in the index and would force a sort of the whole range."""
    column = columns.recorded_at if order == "time" else columns.step
    return column.desc() if descending else column


def _side(
    table: Table,
    series: str,
    start: datetime | None,
    end: datetime | None,
    archived: bool,
    order: Order,
    descending: bool,
    limit: int | None,
) -> Select[Any]:
    statement = select(
        table.c.step,
        table.c.value,
        table.c.recorded_at,
        table.c.labels,
        literal(archived).label("archived"),
    ).where(table.c.series == series)
    if start is not None:
        statement = statement.where(table.c.recorded_at >= as_utc(start))
    if end is not None:
        statement = statement.where(table.c.recorded_at < as_utc(end))
    if limit is None:
        return statement
    limited = statement.order_by(_key(table.c, order, descending)).limit(limit).subquery()
    return select(limited)


def read_points(connection: Connection, series: str, statement: Select[Any]) -> list[MetricPoint]:
    return [
        MetricPoint(series, row.step, row.value, as_utc(row.recorded_at), row.labels, row.archived)
        for row in connection.execute(statement)
    ]


def bucket_expression(dialect: str, bucket: str) -> str:
    """SQL for the start of ``bucket`` (``"1 hour"``, ``"15 minutes"``, ``"1 day"``, ``"month"``).

    PostgreSQL: ``date_trunc`` in UTC for one unit, ``date_bin`` for several; SQLite: ``strftime``.
    """
    found = _BUCKET.match(bucket)
    if found is None:
        raise ValueError(f"bucket {bucket!r} is not like '1 hour', '15 minutes', '1 day', 'month'")
    count, unit = int(found.group(1) or 1), found.group(2)
    if count < 1 or (unit == "month" and count != 1):
        raise ValueError("bucket counts start at 1, and months come one at a time")
    if dialect == "postgresql":
        if count == 1 or unit == "month":
            return f"date_trunc('{unit}', recorded_at, 'UTC')"
        return (
            f"date_bin(interval '{count} {unit}s', recorded_at, "
            "timestamptz '1970-01-05 00:00:00+00')"
        )
    if unit == "month":
        return "strftime('%Y-%m-01 00:00:00', recorded_at)"
    width = _SECONDS[unit] * count
    epoch = f"CAST(strftime('%s', recorded_at) AS INTEGER) - {_EPOCH_MONDAY}"
    return f"datetime(({epoch}) / {width} * {width} + {_EPOCH_MONDAY}, 'unixepoch')"


def summarize(
    connection: Connection,
    series: str,
    bucket: str,
    start: datetime | None,
    end: datetime | None,
    include_archived: bool,
) -> list[MetricBucket]:
    """count/min/max/avg per bucket over live (and archive) rows of ``series``."""
    check_series(series)
    expression = bucket_expression(connection.dialect.name, bucket)
    tables = ["resilience_metrics"] + (["resilience_metrics_archive"] if include_archived else [])
    where = "series = :series" + (" AND recorded_at >= :start" if start else "")
    where += " AND recorded_at < :end" if end else ""
    union = " UNION ALL ".join(f"SELECT recorded_at, value FROM {t} WHERE {where}" for t in tables)
    query = text(
        f"SELECT {expression} AS bucket, count(*) AS n, min(value) AS lo, max(value) AS hi, "
        f"avg(value) AS mean FROM ({union}) AS points GROUP BY 1 ORDER BY 1"
    )
    params: dict[str, Any] = {"series": series}
    if start:
        params["start"] = _bind_time(connection, start)
    if end:
        params["end"] = _bind_time(connection, end)
    return [
        MetricBucket(_as_datetime(row.bucket), int(row.n), row.lo, row.hi, float(row.mean))
        for row in connection.execute(query, params)
    ]


AGE_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("< 1 day", 1),
    ("1-7 days", 7),
    ("7-30 days", 30),
    ("30-90 days", 90),
    ("90-365 days", 365),
    ("> 365 days", None),
)


def count_by_age(connection: Connection, now: datetime) -> dict[str, dict[str, int]]:
    """Rows per age bucket in each table, newest bucket first (``archive status``).

    One pass per table with a ``CASE`` per bucket, rather than a count query per bucket.
    """
    result: dict[str, dict[str, int]] = {}
    for name, table in (("live", metrics), ("archive", metrics_archive)):
        sums = []
        newer: datetime | None = None
        for label, days in AGE_BUCKETS:
            older = now - timedelta(days=days) if days is not None else None
            conditions = []
            if older is not None:
                conditions.append(table.c.recorded_at >= older)
            if newer is not None:
                conditions.append(table.c.recorded_at < newer)
            sums.append(
                func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0).label(label)
            )
            newer = older
        row = connection.execute(select(*sums).select_from(table)).one()
        result[name] = {label: int(row[index]) for index, (label, _) in enumerate(AGE_BUCKETS)}
    return result


def _labels(labels: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if labels is None:
        return None
    if not isinstance(labels, Mapping):
        raise ValueError("labels must be a mapping of strings to JSON values")
    if _has_nul(labels):  # JSONB refuses NUL, and SQLite should behave the same
        raise ValueError("labels must not contain NUL characters")
    return dict(labels)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, Mapping):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _json(labels: dict[str, Any] | None) -> str | None:
    return None if labels is None else json.dumps(labels, separators=(",", ":"))


def _bind_time(connection: Connection, moment: datetime) -> Any:
    """SQLite compares the stored text, so bind the same text SQLAlchemy writes for UTC values."""
    value = as_utc(moment)
    if connection.dialect.name == "sqlite":
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return as_utc(value)


def rows_of(items: Iterable[Mapping[str, Any] | Sequence[Any]]) -> list[Row]:
    return [coerce_row(item) for item in items]


__all__ = [
    "MetricBucket",
    "MetricPoint",
    "bucket_expression",
    "check_series",
    "count_by_age",
    "insert_rows",
    "make_row",
    "points_query",
    "read_points",
    "rows_of",
    "summarize",
]
