"""Partition upkeep on PostgreSQL: the maintenance lock, bounded lock waits, ``ensure``.

Every catalogue change here runs with a short ``lock_timeout`` and is retried. A DDL statement that
waits for a lock makes every later writer of the table queue behind it, so bounding the wait
bounds the writers' stall; giving up and retrying later costs the maintenance job only time.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from . import partitions as ddl
from .catalog import count_rows, covered, list_partitions, months_in

logger = logging.getLogger("flask_resilience.archive")
T = TypeVar("T")

MAINTENANCE_LOCK_KEY = zlib.crc32(b"flask_resilience.archive.maintenance")
"""One advisory-lock key for every maintenance run (ensure, archive, retention) of a database."""
LOCK_NOT_AVAILABLE = "55P03"
RETRY_ATTEMPTS = 40
RETRY_PAUSE_SECONDS = 0.05


class MaintenanceBusy(RuntimeError):
    """Another process holds the maintenance lock; the caller should simply try again later."""


@dataclass(slots=True)
class EnsureReport:
    """What ``ensure_partitions`` did: partitions made, stray rows moved out of DEFAULT."""

    created: list[str] = field(default_factory=list)
    moved_from_default: dict[str, int] = field(default_factory=dict)
    default_rows: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "created": self.created,
            "moved_from_default": self.moved_from_default,
            "default_rows": self.default_rows,
        }


@contextmanager
def maintenance_lock(engine: Engine, *, wait_seconds: float = 0.0) -> Iterator[Connection]:
    """A connection holding the session-level advisory lock; ``MaintenanceBusy`` if taken.

    Session-level (not transaction-level) because an archive run spans many short transactions,
    and it must hold off a second run (a cron job and an operator's CLI at once) throughout.
    """
    with engine.connect() as connection:
        deadline = time.monotonic() + wait_seconds
        while not _try_lock(connection):
            if time.monotonic() >= deadline:
                raise MaintenanceBusy("another metric maintenance run holds the lock")
            time.sleep(0.1)
        try:
            yield connection
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _key()})
            connection.commit()


def _key() -> int:
    return MAINTENANCE_LOCK_KEY


def _try_lock(connection: Connection) -> bool:
    query = text("SELECT pg_try_advisory_lock(:key)")
    locked = bool(connection.execute(query, {"key": _key()}).scalar_one())
    connection.commit()
    return locked


def with_lock_timeout(
    connection: Connection,
    timeout_ms: int,
    work: Callable[[Connection], T],
    *,
    attempts: int = RETRY_ATTEMPTS,
) -> T:
    """Run ``work`` in its own transaction under ``lock_timeout``, retrying lock timeouts.

    Each failed attempt rolls back at once, releasing its place in the lock queue, so writers
    waiting behind it go ahead; the pause between attempts grows so a busy table gets room.
    """
    if connection.in_transaction():
        connection.commit()  # end the read-only transaction a catalogue query auto-began
    for attempt in range(1, attempts + 1):
        try:
            with connection.begin():
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(timeout_ms)}ms'")
                return work(connection)
        except DBAPIError as exc:
            if not is_lock_timeout(exc) or attempt == attempts:
                raise
            logger.debug("lock not available (attempt %d), retrying", attempt)
            time.sleep(min(RETRY_PAUSE_SECONDS * attempt, 1.0))
    raise AssertionError("unreachable")  # pragma: no cover


def is_lock_timeout(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == LOCK_NOT_AVAILABLE


def ensure_partitions(
    connection: Connection, months: Iterable[date], timeout_ms: int
) -> EnsureReport:
    """Create the live DEFAULT and each month of ``months``; empty DEFAULT of stray rows.

    Call with the maintenance lock held. Stray rows of a month that is already archived go into
    that archive partition; rows of any other month get their live partition. A month that a
    hand-made partition (several months, or open-ended) already takes in is left to it.
    """
    report = EnsureReport()
    live = ddl.LIVE_TABLE
    partitions = list_partitions(connection, live, exact_counts=False)
    if not any(info.is_default for info in partitions):
        with_lock_timeout(connection, timeout_ms, _exec(ddl.create_default_sql(live)))
        report.created.append(ddl.default_partition_name(live))
    archived = {
        info.month: info.name
        for info in list_partitions(connection, ddl.ARCHIVE_TABLE, exact_counts=False)
        if info.month is not None
    }
    default = ddl.default_partition_name(live)
    made: set[date] = set()
    for month in months_in(connection, default):
        if month in archived:
            moved = with_lock_timeout(
                connection, timeout_ms, _move_stray(default, archived[month], month)
            )
            report.moved_from_default[archived[month]] = moved
        elif not covered(partitions, month):
            name, moved = create_month(connection, month, timeout_ms)
            made.add(month)
            report.created.append(name)
            report.moved_from_default[name] = moved
    for month in months:
        if month not in made and not covered(partitions, month):
            report.created.append(create_month(connection, month, timeout_ms)[0])
            made.add(month)
    report.default_rows = count_rows(connection, default)
    connection.commit()
    return report


def create_month(
    connection: Connection, month: date, timeout_ms: int, *, attempts: int = RETRY_ATTEMPTS
) -> tuple[str, int]:
    """Create the live partition of ``month``, moving its rows out of DEFAULT; (name, moved).

    The table is built standalone, filled and given a valid CHECK before ``ATTACH``: ATTACH then
    takes only SHARE UPDATE EXCLUSIVE on the parent (writers of other months never wait) and
    skips scanning the new table. DEFAULT is locked so no row of the month lands there meanwhile.
    ``attempts=1`` gives up at the first lock timeout (the recording path must not wait).
    """
    live = ddl.LIVE_TABLE
    name = ddl.partition_name(live, month)
    default = ddl.default_partition_name(live)

    def work(conn: Connection) -> int:
        conn.exec_driver_sql(ddl.create_standalone_sql(live, name))
        conn.exec_driver_sql(ddl.add_check_sql(name, month, valid=True))
        conn.exec_driver_sql(ddl.lock_sql(default, "ACCESS EXCLUSIVE"))
        moved = conn.exec_driver_sql(ddl.move_rows_sql(default, name, month)).rowcount
        conn.exec_driver_sql(ddl.attach_sql(live, name, month))
        return max(moved, 0)

    moved = with_lock_timeout(connection, timeout_ms, work, attempts=attempts)
    logger.info("created partition %s (%d rows moved out of DEFAULT)", name, moved)
    return name, moved


def _move_stray(default: str, target: str, month: date) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.exec_driver_sql(ddl.lock_sql(default, "ACCESS EXCLUSIVE"))
        return max(conn.exec_driver_sql(ddl.move_rows_sql(default, target, month)).rowcount, 0)

    return work


def _exec(statement: str) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.exec_driver_sql(statement)

    return work


__all__ = [
    "MAINTENANCE_LOCK_KEY",
    "EnsureReport",
    "MaintenanceBusy",
    "create_month",
    "ensure_partitions",
    "is_lock_timeout",
    "maintenance_lock",
    "with_lock_timeout",
]
