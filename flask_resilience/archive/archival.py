"""Moving whole old months from the live metric table to the archive, and optional retention.

On PostgreSQL a month moves by DETACH + ATTACH: a catalogue change, no row copied, no dead tuples
left behind. The steps, and which lock each takes, are chosen so live writers wait only for the
catalogue swap itself (see ``docs/metrics-archive.md``):

1. Make sure the partition has a *valid* CHECK equal to its bound. Partitions made by
   ``ensure`` and the recording path got one, valid, at creation, so this is a catalogue lookup.
   Only a partition lacking it (made by hand) gets ``ADD CONSTRAINT <p>_bounds CHECK (...) NOT
   VALID`` (instant, ACCESS EXCLUSIVE on that old partition only) and then ``VALIDATE
   CONSTRAINT`` (scans the month under SHARE UPDATE EXCLUSIVE; nobody waits).
2. One short transaction under ``lock_timeout``: ``LOCK archive`` (SHARE UPDATE EXCLUSIVE),
   ``DETACH`` from live (ACCESS EXCLUSIVE on live, a few milliseconds), ``ATTACH`` to the archive
   (no scan: the valid CHECK implies the bound), ``RENAME``. Readers never see a gap.
3. ``count(*)`` of the moved partition, for an exact report (a scan, but it blocks nobody).

On SQLite the rows are copied and deleted in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from . import partitions as ddl
from .catalog import PartitionInfo, count_rows, list_partitions
from .maintenance import maintenance_lock, with_lock_timeout
from .models import metrics, metrics_archive

logger = logging.getLogger("flask_resilience.archive")
VALIDATE_TIMEOUT_MS = 5000
"""VALIDATE blocks no reader or writer, so it may wait longer for its (weak) lock."""
MERGE_BATCH = 10_000
"""Rows per transaction when a live partition is merged into an archived month by copy."""


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
    error: str | None = None
    """Set on the partial report of an interrupted run (``ArchiveInterrupted.report``)."""

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
            "error": self.error,
        }


class ArchiveInterrupted(RuntimeError):
    """A database error stopped an archive run part-way; ``report`` says what had moved.

    Every month in ``report.moved`` is complete (each move is its own transaction); the month
    that failed is still live, whole, and the next run picks it up. The error is ``__cause__``.
    """

    def __init__(self, report: ArchiveReport) -> None:
        self.report = report
        super().__init__(f"archive run stopped after {len(report.moved)} month(s): {report.error}")


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
    ``drop_cutoff``. Only whole months move, so a month straddling the cutoff stays live.

    A database error (a lock still busy after every retry, say) ends the run with
    ``ArchiveInterrupted``, whose report lists the months moved before it; it is logged too.
    """
    cutoff = ddl.as_utc(cutoff)
    drop_cutoff = ddl.as_utc(drop_cutoff) if drop_cutoff else None
    if engine.dialect.name != "postgresql":
        return _archive_sqlite(engine, cutoff, drop_cutoff, dry_run)
    run = _Run(cutoff, drop_cutoff, dry_run)
    with maintenance_lock(engine, wait_seconds=lock_wait_seconds) as connection:
        try:
            _archive_postgres(connection, run, timeout_ms)
        except DBAPIError as exc:
            connection.rollback()
            report = run.report(error=_error_text(exc))
            _log(report)
            raise ArchiveInterrupted(report) from exc
        connection.commit()
    report = run.report()
    _log(report)
    return report


@dataclass
class _Run:
    """What one archive run has done so far, so an interrupted run can still say it."""

    cutoff: datetime
    drop_cutoff: datetime | None
    dry_run: bool
    moved: list[MovedMonth] = field(default_factory=list)
    dropped: list[MovedMonth] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    default_rows: int = 0

    def report(self, error: str | None = None) -> ArchiveReport:
        return ArchiveReport(
            self.cutoff,
            self.dry_run,
            tuple(self.moved),
            tuple(self.dropped),
            self.drop_cutoff,
            self.default_rows,
            tuple(self.notes),
            error,
        )


def _archive_postgres(connection: Connection, run: _Run, timeout_ms: int) -> None:
    for info in list_partitions(connection, ddl.LIVE_TABLE, exact_counts=run.dry_run):
        if info.is_default or info.upper is None or info.upper > run.cutoff:
            continue
        if info.month is None:
            run.notes.append(f"{info.name} left live: its bounds ({info.bounds}) are not one month")
        elif run.dry_run:
            run.moved.append(MovedMonth(info.month, info.name, info.rows, 0.0))
        else:
            run.moved.append(move_partition(connection, info, timeout_ms, run.notes.append))
    if run.drop_cutoff is not None:
        _drop_months(connection, run, run.drop_cutoff, timeout_ms)
    run.default_rows = count_rows(connection, ddl.default_partition_name(ddl.LIVE_TABLE))


def move_partition(
    connection: Connection, info: PartitionInfo, timeout_ms: int, note: Callable[[str], None]
) -> MovedMonth:
    """Move one live partition to the archive (the steps of the module docstring)."""
    started = time.perf_counter()
    month = _month(info)
    target = ddl.partition_name(ddl.ARCHIVE_TABLE, month)
    if _exists(connection, target):
        note(f"{target} already existed; {info.name} was merged into it by copy")
        return _merge_into(connection, info.name, target, month, timeout_ms, started)
    _prepare_check(connection, info.name, month, timeout_ms)
    detached_at = [0.0]

    def swap(conn: Connection) -> None:
        conn.exec_driver_sql(ddl.lock_sql(ddl.ARCHIVE_TABLE, "SHARE UPDATE EXCLUSIVE"))
        detached_at[0] = time.perf_counter()
        conn.exec_driver_sql(ddl.detach_sql(ddl.LIVE_TABLE, info.name))
        conn.exec_driver_sql(ddl.attach_sql(ddl.ARCHIVE_TABLE, info.name, month))
        conn.exec_driver_sql(ddl.rename_sql(info.name, target))

    with_lock_timeout(connection, timeout_ms, swap)
    locked = time.perf_counter() - detached_at[0]
    rows = count_rows(connection, target)  # the exact figure for the report; blocks nobody
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
    """The rare path: the month is archived already and a live partition of it exists too
    (made by hand; the recording path never makes a partition for an archived month).

    The rows move first, in batches of ``MERGE_BATCH``, each its own transaction under ROW
    EXCLUSIVE locks: writers of every month, this one included, go on. Then one short
    transaction takes the archive partition's lock, detaches the now (nearly) empty partition
    from the live table, moves what arrived meanwhile and drops it; only this holds ACCESS
    EXCLUSIVE on the live table. Each statement moves rows in one ``DELETE ... RETURNING``, so
    a reader never sees a row twice or not at all.
    """
    moved = 0
    while True:
        batch = with_lock_timeout(connection, timeout_ms, _move(source, target, month, MERGE_BATCH))
        moved += batch
        if batch < MERGE_BATCH:
            break
    detached_at = [0.0]

    def finish(conn: Connection) -> int:
        conn.exec_driver_sql(ddl.lock_sql(target, "ROW EXCLUSIVE"))
        detached_at[0] = time.perf_counter()
        conn.exec_driver_sql(ddl.detach_sql(ddl.LIVE_TABLE, source))
        rest = _move(source, target, month, None)(conn)
        conn.exec_driver_sql(ddl.drop_sql(source))
        return rest

    moved += with_lock_timeout(connection, timeout_ms, finish)
    locked = time.perf_counter() - detached_at[0]
    return MovedMonth(month, target, moved, time.perf_counter() - started, locked)


def _move(source: str, target: str, month: date, limit: int | None) -> Callable[[Connection], int]:
    statement = ddl.move_rows_sql(source, target, month, limit=limit)

    def work(conn: Connection) -> int:
        return max(conn.exec_driver_sql(statement).rowcount, 0)

    return work


def _drop_months(connection: Connection, run: _Run, drop_cutoff: datetime, timeout_ms: int) -> None:
    """Retention: DETACH + DROP archive partitions entirely older than ``drop_cutoff``.

    A dry run lists the archive's old months and also the months this run would archive first.
    """
    archived = list_partitions(connection, ddl.ARCHIVE_TABLE)  # exact: the report says rows
    for info in archived:
        if info.upper is None or info.upper > drop_cutoff:
            continue
        if info.month is None:
            run.notes.append(f"{info.name} kept: its bounds ({info.bounds}) are not one month")
            continue
        started = time.perf_counter()
        if not run.dry_run:

            def drop(conn: Connection, name: str = info.name) -> None:
                conn.exec_driver_sql(ddl.detach_sql(ddl.ARCHIVE_TABLE, name))
                conn.exec_driver_sql(ddl.drop_sql(name))

            with_lock_timeout(connection, timeout_ms, drop)
        run.dropped.append(
            MovedMonth(info.month, info.name, info.rows, time.perf_counter() - started)
        )
    if run.dry_run:
        already = {info.month for info in archived}
        run.dropped += [
            replace(month, partition=ddl.partition_name(ddl.ARCHIVE_TABLE, month.month))
            for month in run.moved
            if month.month not in already and ddl.month_bounds(month.month)[1] <= drop_cutoff
        ]


def _archive_sqlite(
    engine: Engine, cutoff: datetime, drop_cutoff: datetime | None, dry_run: bool
) -> ArchiveReport:
    """Copy and delete whole months in one transaction (SQLite has no partitions)."""
    try:
        report = _copy_sqlite(engine, cutoff, drop_cutoff, dry_run)
    except DBAPIError as exc:  # the one transaction rolled back: nothing moved
        report = ArchiveReport(cutoff, dry_run, drop_cutoff=drop_cutoff, error=_error_text(exc))
        _log(report)
        raise ArchiveInterrupted(report) from exc
    _log(report)
    return report


def _copy_sqlite(
    engine: Engine, cutoff: datetime, drop_cutoff: datetime | None, dry_run: bool
) -> ArchiveReport:
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
            if dry_run:  # a real run would have copied these months into the archive first
                dropped = _merge_counts(
                    dropped, [m for m in moved if ddl.month_bounds(m.month)[1] <= drop_boundary]
                )
            else:
                table = metrics_archive
                connection.execute(table.delete().where(table.c.recorded_at < drop_boundary))
    return ArchiveReport(cutoff, dry_run, tuple(moved), tuple(dropped), drop_cutoff)


def _merge_counts(archived: list[MovedMonth], moving: list[MovedMonth]) -> list[MovedMonth]:
    """Per month, the archive's rows plus the live rows a real run would have moved there."""
    rows = {m.month: m.rows for m in archived}
    for month in moving:
        rows[month.month] = rows.get(month.month, 0) + month.rows
    label = metrics_archive.name
    return [
        MovedMonth(month, f"{label} {month:%Y-%m}", count, 0.0)
        for month, count in sorted(rows.items())
    ]


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


def _error_text(exc: DBAPIError) -> str:
    """The driver's first line (``lock timeout``, ``deadlock detected``), without the SQL."""
    first = str(exc.orig).strip().splitlines()
    return f"{type(exc.orig).__name__}: {first[0] if first else ''}"


def _log(report: ArchiveReport) -> None:
    verb = "would archive" if report.dry_run else "archived"
    if report.error:
        logger.error(
            "archive run interrupted (%s) after %d month(s), %d row(s): %s",
            report.error,
            len(report.moved),
            report.rows_moved,
            ", ".join(f"{m.partition} ({m.rows} rows)" for m in report.moved) or "nothing moved",
        )
        return
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


__all__ = [
    "ArchiveInterrupted",
    "ArchiveReport",
    "MovedMonth",
    "archive_months",
    "move_partition",
]
