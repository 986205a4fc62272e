"""Moving whole old months from the live metric table to the archive, and optional retention.

On PostgreSQL a month moves by DETACH + ATTACH: a catalogue change, no row copied, no dead tuples
left behind. The steps, and which lock each takes, are chosen so live writers wait only for the
catalogue swap itself (see ``docs/metrics-archive.md``):

1. ``ADD CONSTRAINT <p>_bounds CHECK (...) NOT VALID``: instant, ACCESS EXCLUSIVE on the old
   month's partition only (writers of the current month route to another partition).
2. ``VALIDATE CONSTRAINT``: scans the month under SHARE UPDATE EXCLUSIVE; nobody waits.
3. One short transaction under ``lock_timeout``: ``LOCK archive`` (SHARE UPDATE EXCLUSIVE),
   ``DETACH`` from live (ACCESS EXCLUSIVE on live, a few milliseconds), ``ATTACH`` to the archive
   (no scan: the valid CHECK implies the bound), ``RENAME``. Readers never see a gap.

On SQLite the rows are copied and deleted in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection, Engine

from . import partitions as ddl
from .catalog import PartitionInfo, count_rows, list_partitions
from .maintenance import maintenance_lock, with_lock_timeout
from .models import metrics, metrics_archive

logger = logging.getLogger("flask_resilience.archive")
VALIDATE_TIMEOUT_MS = 5000
"""VALIDATE blocks no reader or writer, so it may wait longer for its (weak) lock."""


@dataclass(frozen=True, slots=True)
class MovedMonth:
    """One month archived (or dropped): the partition it ended as and its row count.

    ``seconds`` is the whole move (CHECK validation included); ``locked_seconds`` only the
    transaction that held ACCESS EXCLUSIVE on the live table, the part writers can wait for.
    """

    month: date
    partition: str
    rows: int
    seconds: float
    locked_seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "month": self.month.isoformat(),
            "partition": self.partition,
            "rows": self.rows,
            "seconds": round(self.seconds, 4),
            "locked_seconds": round(self.locked_seconds, 4),
        }


@dataclass(frozen=True, slots=True)
class ArchiveReport:
    """What an archive run moved (or, with ``dry_run``, would move) and dropped."""

    cutoff: datetime
    dry_run: bool
    moved: tuple[MovedMonth, ...] = ()
    dropped: tuple[MovedMonth, ...] = ()
    drop_cutoff: datetime | None = None
    default_rows: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def rows_moved(self) -> int:
        return sum(month.rows for month in self.moved)

    def as_json(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "dry_run": self.dry_run,
            "moved": [month.as_json() for month in self.moved],
            "rows_moved": self.rows_moved,
            "dropped": [month.as_json() for month in self.dropped],
            "drop_cutoff": self.drop_cutoff.isoformat() if self.drop_cutoff else None,
            "default_rows": self.default_rows,
            "notes": list(self.notes),
        }


def archive_months(
    engine: Engine,
    cutoff: datetime,
    *,
    drop_cutoff: datetime | None = None,
    dry_run: bool = False,
    timeout_ms: int = 40,
    lock_wait_seconds: float = 5.0,
) -> ArchiveReport:
    """Archive every month entirely older than ``cutoff``; drop archived months before
    ``drop_cutoff``. Only whole months move, so a month straddling the cutoff stays live."""
    cutoff = ddl.as_utc(cutoff)
    drop_cutoff = ddl.as_utc(drop_cutoff) if drop_cutoff else None
    if engine.dialect.name != "postgresql":
        return _archive_sqlite(engine, cutoff, drop_cutoff, dry_run)
    with maintenance_lock(engine, wait_seconds=lock_wait_seconds) as connection:
        moved: list[MovedMonth] = []
        notes: list[str] = []
        for info in list_partitions(connection, ddl.LIVE_TABLE, exact_counts=dry_run):
            if info.upper is None or info.upper > cutoff:
                continue
            if dry_run:
                moved.append(MovedMonth(_month(info), info.name, info.rows, 0.0))
                continue
            moved.append(move_partition(connection, info, timeout_ms, notes.append))
        dropped = _drop_months(connection, drop_cutoff, dry_run, timeout_ms) if drop_cutoff else []
        default_rows = count_rows(connection, ddl.default_partition_name(ddl.LIVE_TABLE))
        connection.commit()
    report = ArchiveReport(
        cutoff, dry_run, tuple(moved), tuple(dropped), drop_cutoff, default_rows, tuple(notes)
    )
    _log(report)
    return report


def move_partition(
    connection: Connection, info: PartitionInfo, timeout_ms: int, note: Callable[[str], None]
) -> MovedMonth:
    """Move one live partition to the archive (steps 1-3 of the module docstring)."""
    started = time.perf_counter()
    month = _month(info)
    target = ddl.partition_name(ddl.ARCHIVE_TABLE, month)
    _prepare_check(connection, info.name, month, timeout_ms)
    if _exists(connection, target):
        note(f"{target} already existed; {info.name} was merged into it by copy")
        return _merge_into(connection, info.name, target, month, timeout_ms, started)

    detached_at = [0.0]

    def swap(conn: Connection) -> None:
        conn.exec_driver_sql(ddl.lock_sql(ddl.ARCHIVE_TABLE, "SHARE UPDATE EXCLUSIVE"))
        detached_at[0] = time.perf_counter()
        conn.exec_driver_sql(ddl.detach_sql(ddl.LIVE_TABLE, info.name))
        conn.exec_driver_sql(ddl.attach_sql(ddl.ARCHIVE_TABLE, info.name, month))
        conn.exec_driver_sql(ddl.rename_sql(info.name, target))

    with_lock_timeout(connection, timeout_ms, swap)
    locked = time.perf_counter() - detached_at[0]
    rows = count_rows(connection, target)
    connection.commit()
    return MovedMonth(month, target, rows, time.perf_counter() - started, locked)


def _prepare_check(connection: Connection, table: str, month: date, timeout_ms: int) -> None:
    """Make sure ``table`` has a *valid* CHECK equal to its bounds, so ATTACH skips its scan."""
    constraint = ddl.check_name(table)
    state = connection.execute(
        text(
            "SELECT convalidated FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND conname = :name"
        ),
        {"table": ddl.quote(table), "name": constraint},
    ).scalar_one_or_none()
    if state is None:
        statement = ddl.add_check_sql(table, month, valid=False)
        with_lock_timeout(connection, timeout_ms, lambda conn: conn.exec_driver_sql(statement))
    if not state:
        validate = ddl.validate_check_sql(table, constraint)
        with_lock_timeout(connection, VALIDATE_TIMEOUT_MS, lambda c: c.exec_driver_sql(validate))


def _merge_into(
    connection: Connection, source: str, target: str, month: date, timeout_ms: int, started: float
) -> MovedMonth:
    """The rare path: the month is already archived (late rows got their own live partition)."""

    def merge(conn: Connection) -> int:
        conn.exec_driver_sql(ddl.detach_sql(ddl.LIVE_TABLE, source))
        moved = conn.exec_driver_sql(ddl.move_rows_sql(source, target, month)).rowcount
        conn.exec_driver_sql(ddl.drop_sql(source))
        return max(moved, 0)

    rows = with_lock_timeout(connection, timeout_ms, merge)
    return MovedMonth(month, target, rows, time.perf_counter() - started)


def _drop_months(
    connection: Connection, drop_cutoff: datetime, dry_run: bool, timeout_ms: int
) -> list[MovedMonth]:
    """Retention: DETACH + DROP archive partitions entirely older than ``drop_cutoff``."""
    dropped = []
    for info in list_partitions(connection, ddl.ARCHIVE_TABLE):
        if info.upper is None or info.upper > drop_cutoff:
            continue
        started = time.perf_counter()
        if not dry_run:

            def drop(conn: Connection, name: str = info.name) -> None:
                conn.exec_driver_sql(ddl.detach_sql(ddl.ARCHIVE_TABLE, name))
                conn.exec_driver_sql(ddl.drop_sql(name))

            with_lock_timeout(connection, timeout_ms, drop)
        dropped.append(
            MovedMonth(_month(info), info.name, info.rows, time.perf_counter() - started)
        )
    return dropped


def _archive_sqlite(
    engine: Engine, cutoff: datetime, drop_cutoff: datetime | None, dry_run: bool
) -> ArchiveReport:
    """Copy and delete whole months in one transaction (SQLite has no partitions)."""
    boundary = ddl.month_bounds(ddl.month_start(cutoff))[0]
    with engine.begin() as connection:
        moved = _months_before(connection, metrics, boundary)
        if not dry_run and moved:
            columns = [metrics.c[name] for name in ddl.COLUMNS]
            old = select(*columns).where(metrics.c.recorded_at < boundary)
            connection.execute(metrics_archive.insert().from_select(list(ddl.COLUMNS), old))
            connection.execute(metrics.delete().where(metrics.c.recorded_at < boundary))
        dropped: list[MovedMonth] = []
        if drop_cutoff is not None:
            drop_boundary = ddl.month_bounds(ddl.month_start(drop_cutoff))[0]
            dropped = _months_before(connection, metrics_archive, drop_boundary)
            if not dry_run:
                table = metrics_archive
                connection.execute(table.delete().where(table.c.recorded_at < drop_boundary))
    report = ArchiveReport(cutoff, dry_run, tuple(moved), tuple(dropped), drop_cutoff)
    _log(report)
    return report


def _months_before(connection: Connection, table: Table, boundary: datetime) -> list[MovedMonth]:
    month = func.strftime("%Y-%m", table.c.recorded_at)
    query = (
        select(month, func.count())
        .where(table.c.recorded_at < boundary)
        .group_by(month)
        .order_by(month)
    )
    found = []
    for label, rows in connection.execute(query):
        first = date.fromisoformat(f"{label}-01")
        found.append(MovedMonth(first, f"{table.name} {label}", int(rows), 0.0))
    return found


def _month(info: PartitionInfo) -> date:
    assert info.month is not None
    return info.month


def _log(report: ArchiveReport) -> None:
    verb = "would archive" if report.dry_run else "archived"
    logger.info(
        "%s %d month(s), %d row(s) older than %s: %s; dropped %d month(s)",
        verb,
        len(report.moved),
        report.rows_moved,
        report.cutoff.isoformat(),
        ", ".join(f"{m.partition} ({m.rows} rows)" for m in report.moved) or "nothing",
        len(report.dropped),
    )
    if report.default_rows:
        logger.warning(
            "%d row(s) sit in the DEFAULT partition: run `flask resilience partitions ensure`",
            report.default_rows,
        )


def _exists(connection: Connection, table: str) -> bool:
    query = text("SELECT to_regclass(:name) IS NOT NULL")
    return bool(connection.execute(query, {"name": ddl.quote(table)}).scalar_one())


__all__ = ["ArchiveReport", "MovedMonth", "archive_months", "move_partition"]
