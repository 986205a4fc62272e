"""The daily metric maintenance job, as plain functions, and how it wants to be scheduled.

The jobs capability runs it without this package importing jobs: ``extension.py`` reads
:func:`scheduled_job` and declares ``res.jobs.periodic(cron=..., name="archive-metrics")`` on
:func:`run_metric_maintenance`, which RQ then calls by its dotted path
(``flask_resilience.archive.tasks.run_metric_maintenance``) inside the app's context.
``RESILIENCE_ARCHIVE_SCHEDULE`` (default ``0 2 * * *``, UTC; ``off`` disables) sets the time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from .api import MetricsAPI
from .config import ArchiveSettings

logger = logging.getLogger("flask_resilience.archive")
JOB_NAME = "archive-metrics"


def archive_old_metrics(app: Flask) -> dict[str, Any]:
    """Premake partitions, empty DEFAULT, archive old months and apply retention; JSON report.

    ``ensure`` runs first so that rows that landed in DEFAULT reach their month before that month
    is considered for archival.
    """
    metrics = MetricsAPI(app)
    ensured = metrics.ensure_partitions()
    report = metrics.archive()
    logger.info(
        "metric maintenance: %d partition(s) created, %d month(s) / %d row(s) archived",
        len(ensured.created),
        len(report.moved),
        report.rows_moved,
    )
    return {"ensure": ensured.as_json(), "archive": report.as_json()}


def run_metric_maintenance() -> dict[str, Any]:
    """The periodic job's entry point: :func:`archive_old_metrics` of the app in context.

    Several apps may share one ``Resilience`` object (and so one job registry); an app whose
    ``RESILIENCE_ARCHIVE_SCHEDULE`` is ``off`` skips the run.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if MetricsAPI(app).settings.schedule is None:
        return {"skipped": "RESILIENCE_ARCHIVE_SCHEDULE is off for this app"}
    return archive_old_metrics(app)


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A periodic job as plain data, for whoever schedules it (``extension.py``).

    >>> job = ScheduledJob(cron="0 2 * * *")
    >>> job.name, job.path, job.options["retries"]
    ('archive-metrics', 'flask_resilience.archive.tasks.run_metric_maintenance', 2)
    """

    cron: str
    name: str = JOB_NAME
    func: Callable[[], dict[str, Any]] = run_metric_maintenance
    retries: int = 2
    base_delay: float = 60.0
    timeout: int = 3600
    """VALIDATE of a hand-made partition scans it, and lock waits are retried: allow an hour."""

    @property
    def path(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"

    @property
    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``res.jobs.periodic`` besides ``cron`` and the queue."""
        return {
            "name": self.name,
            "retries": self.retries,
            "base_delay": self.base_delay,
            "timeout": self.timeout,
        }


def scheduled_job(settings: ArchiveSettings) -> ScheduledJob | None:
    """The daily job of ``settings``, or None when ``RESILIENCE_ARCHIVE_SCHEDULE`` is off."""
    return None if settings.schedule is None else ScheduledJob(cron=settings.schedule)


__all__ = [
    "JOB_NAME",
    "ScheduledJob",
    "archive_old_metrics",
    "run_metric_maintenance",
    "scheduled_job",
]
