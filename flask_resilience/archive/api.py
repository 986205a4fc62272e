"""``res.metrics``: record, query and archive time-series metrics of the current app.

>>> from flask import Flask
>>> from flask_resilience import Resilience, schema
>>> app = Flask(__name__)
>>> app.config["RESILIENCE_DATABASE_URL"] = "sqlite://"
>>> res = Resilience(app)
>>> schema.upgrade(app)
>>> with app.app_context():
...     res.metrics.record("training:42", 0.71, step=1)
...     [point.value for point in res.metrics.query("training:42")]
[0.71]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .._foundation.clock import SYSTEM_CLOCK, Clock
from ..state import get_state
from . import partitions as ddl
from .archival import ArchiveReport, archive_months
from .catalog import PartitionInfo, covered, list_partitions
from .config import ArchiveSettings
from .maintenance import (
    EnsureReport,
    MaintenanceBusy,
    create_month,
    ensure_partitions,
    maintenance_lock,
)
from .query import (
    MetricBucket,
    MetricPoint,
    Order,
    Row,
    count_by_age,
    insert_rows,
    make_row,
    points_query,
    read_points,
    rows_of,
    summarize,
)

CAPABILITY = "archive"
logger = logging.getLogger("flask_resilience.archive")
ON_DEMAND_LOCK_TIMEOUT_MS = 20
"""A partition made on the recording path may make that request wait at most this long."""
ON_DEMAND_RETRY_SECONDS = 30.0
ON_DEMAND_RETRY_MAX_SECONDS = 600.0
"""After a failed on-demand creation the month is retried after 30 s, 60 s, ... at most 10 min;
meanwhile its rows go to DEFAULT (and ``partitions ensure`` moves them out)."""


@dataclass
class MetricsRuntime:
    """One app's metric store: its engine, settings and what it knows about partitions.

    ``known_months`` are months this process need not look at again (they have a partition, or
    are archived so their rows belong in DEFAULT until ``ensure``); ``retry_at`` holds months
    whose on-demand creation failed, with the ``clock`` reading when to try again.
    """

    engine: Engine
    settings: ArchiveSettings
    clock: Clock = field(default=SYSTEM_CLOCK)
    known_months: set[date] = field(default_factory=set)
    retry_at: dict[date, float] = field(default_factory=dict)
    failures: dict[date, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def partitioned(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def record(self, rows: Sequence[Row]) -> int:
        """Insert ``rows``; a near-term month gets its partition first, others wait in DEFAULT."""
        if self.partitioned:
            for month in sorted({ddl.month_start(row[3]) for row in rows} - self.known_months):
                self._partition_on_demand(month)
        with self.engine.begin() as connection:
            return insert_rows(connection, rows)

    def _partition_on_demand(self, month: date) -> None:
        """Create a missing near-term month; never fail, never wait long.

        Months far in the past or future are left to DEFAULT (and to ``partitions ensure``), and
        so is a month that is already archived: a live partition for it would be moved by copy at
        the next archival. A failed attempt (lock busy) is retried after a growing pause.
        """
        current = ddl.month_start(datetime.now(UTC))
        if (
            not ddl.add_months(current, -1)
            <= month
            <= ddl.add_months(current, self.settings.partitions_ahead)
        ):
            return
        with self.lock:
            if month in self.known_months or self.clock.monotonic() < self.retry_at.get(month, 0):
                return
            self.known_months.add(month)  # claimed: other threads of this process skip it
        try:
            with maintenance_lock(self.engine) as connection:
                archived = list_partitions(connection, ddl.ARCHIVE_TABLE, exact_counts=False)
                live = list_partitions(connection, ddl.LIVE_TABLE, exact_counts=False)
                if not covered(archived, month) and not covered(live, month):
                    create_month(connection, month, ON_DEMAND_LOCK_TIMEOUT_MS, attempts=1)
        except (MaintenanceBusy, DBAPIError) as exc:
            pause = self._failed(month)
            logger.warning(
                "partition for %s not created now (%s); rows go to DEFAULT, retrying in %.0f s",
                month,
                exc,
                pause,
            )
        else:
            with self.lock:
                self.retry_at.pop(month, None)
                self.failures.pop(month, None)

    def _failed(self, month: date) -> float:
        with self.lock:
            self.known_months.discard(month)
            failures = self.failures[month] = self.failures.get(month, 0) + 1
            pause = min(
                ON_DEMAND_RETRY_SECONDS * 2.0 ** (failures - 1), ON_DEMAND_RETRY_MAX_SECONDS
            )
            self.retry_at[month] = self.clock.monotonic() + pause
            return pause


class MetricsAPI:
    """The metric store of the app in context; ``res.metrics`` returns this object."""

    def __init__(self, app: Flask | None = None) -> None:
        self._app = app

    def record(
        self,
        series: str,
        value: float,
        step: int | None = None,
        at: datetime | None = None,
        labels: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one point: ``res.metrics.record("quiz:7:score", 80.0)``; ``at`` defaults to now.

        Never fails for want of a partition: the DEFAULT partition catches any month.
        """
        self._runtime().record([make_row(series, value, step, at, labels)])

    def record_many(self, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> int:
        """Record many points in one batch (COPY on PostgreSQL); returns how many were written.

        Each row is ``{"series", "value", "step"?, "at"?, "labels"?}`` or a tuple in that order.
        """
        return self._runtime().record(rows_of(rows))

    def query(
        self,
        series: str,
        start: datetime | None = None,
        end: datetime | None = None,
        include_archived: bool = True,
        limit: int | None = None,
        order: Order = "time",
        *,
        descending: bool = False,
    ) -> list[MetricPoint]:
        """Points of ``series`` in ``[start, end)`` from live and archive, merged in ``order``."""
        statement = points_query(
            series,
            start,
            end,
            include_archived=include_archived,
            limit=limit,
            order=order,
            descending=descending,
        )
        with self._runtime().engine.connect() as connection:
            return read_points(connection, series, statement)

    def summary(
        self,
        series: str,
        bucket: str = "1 hour",
        start: datetime | None = None,
        end: datetime | None = None,
        include_archived: bool = True,
    ) -> list[MetricBucket]:
        """count, min, max and avg of ``series`` per ``bucket`` (``"15 minutes"``, ``"1 day"``)."""
        with self._runtime().engine.connect() as connection:
            return summarize(connection, series, bucket, start, end, include_archived)

    def archive(
        self,
        older_than: timedelta | None = None,
        *,
        dry_run: bool = False,
        drop_older_than: timedelta | None = None,
        now: datetime | None = None,
    ) -> ArchiveReport:
        """Move every month entirely older than ``older_than`` (default
        ``RESILIENCE_ARCHIVE_AFTER_DAYS``) to the archive; drop archived months past
        ``drop_older_than`` (default ``RESILIENCE_ARCHIVE_DROP_AFTER_DAYS``, off when unset).

        Raises ``ValueError`` for a negative ``older_than`` or a ``drop_older_than`` that does
        not exceed it, ``MaintenanceBusy`` when another run holds the lock, and
        ``ArchiveInterrupted`` (with the months moved so far) when a database error stops it.
        """
        runtime = self._runtime()
        moment = ddl.as_utc(now) if now else datetime.now(UTC)
        older_than = older_than if older_than is not None else runtime.settings.archive_after
        drop = drop_older_than if drop_older_than is not None else runtime.settings.drop_after
        if older_than < timedelta(0):
            raise ValueError(f"older_than must not be negative (got {older_than})")
        if drop is not None and drop <= older_than:
            raise ValueError(
                f"drop_older_than ({drop}) must exceed older_than ({older_than}): "
                "months would be dropped before they are archived"
            )
        return archive_months(
            runtime.engine,
            moment - older_than,
            drop_cutoff=moment - drop if drop is not None else None,
            dry_run=dry_run,
            timeout_ms=runtime.settings.lock_timeout_ms,
        )

    def ensure_partitions(
        self, ahead: int | None = None, *, now: datetime | None = None
    ) -> EnsureReport:
        """Create this month's and the next ``ahead`` months' partitions; empty DEFAULT."""
        runtime = self._runtime()
        if not runtime.partitioned:
            return EnsureReport()
        ahead = runtime.settings.partitions_ahead if ahead is None else ahead
        current = ddl.month_start(now or datetime.now(UTC))
        months = [ddl.add_months(current, offset) for offset in range(ahead + 1)]
        with maintenance_lock(runtime.engine, wait_seconds=5.0) as connection:
            report = ensure_partitions(connection, months, runtime.settings.lock_timeout_ms)
        runtime.known_months.update(months)
        return report

    @property
    def settings(self) -> ArchiveSettings:
        """The app's ``RESILIENCE_ARCHIVE_*`` settings, as read at ``init_app``."""
        return self._runtime().settings

    def partitions(self) -> list[PartitionInfo]:
        """Every partition of both tables, with exact row counts, bounds and size (PostgreSQL)."""
        runtime = self._runtime()
        if not runtime.partitioned:
            return []
        with runtime.engine.connect() as connection:
            return [
                *list_partitions(connection, ddl.LIVE_TABLE),
                *list_partitions(connection, ddl.ARCHIVE_TABLE),
            ]

    def get_metric_count_by_age(self, now: datetime | None = None) -> dict[str, dict[str, int]]:
        """Rows per age bucket (``< 1 day`` ... ``> 365 days``) in the live and archive tables."""
        with self._runtime().engine.connect() as connection:
            return count_by_age(connection, ddl.as_utc(now) if now else datetime.now(UTC))

    def _runtime(self) -> MetricsRuntime:
        runtime: MetricsRuntime = get_state(self._app).capabilities[CAPABILITY]
        return runtime


metrics_api = MetricsAPI()
"""Resolves the current app at call time, so one object serves every app."""

__all__ = ["CAPABILITY", "MetricsAPI", "MetricsRuntime", "metrics_api"]
