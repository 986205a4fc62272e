"""Time-series metrics in monthly partitions, archived by moving partitions, queried as one table.

``init_app`` validates the ``RESILIENCE_ARCHIVE_*`` keys and stores a :class:`MetricsRuntime` in
``state.capabilities["archive"]``; ``res.metrics`` (a :class:`MetricsAPI`) records, queries,
summarises and archives. :func:`scheduled_job` describes the daily maintenance job, which the
extension declares on the jobs capability. See ``docs/metrics-archive.md`` for the design.
"""

from __future__ import annotations

from flask import Flask

from ..state import ResilienceState
from . import tasks
from .api import CAPABILITY, MetricsAPI, MetricsRuntime, metrics_api
from .archival import ArchiveInterrupted, ArchiveReport, MovedMonth
from .catalog import PartitionInfo
from .config import ArchiveSettings
from .maintenance import EnsureReport, MaintenanceBusy
from .query import MetricBucket, MetricPoint
from .tasks import ScheduledJob


def init_app(app: Flask, state: ResilienceState) -> MetricsRuntime:
    """Read the archive settings (raising ConfigurationError early) and build the runtime."""
    runtime = MetricsRuntime(state.engine, ArchiveSettings.from_reader(state.config))
    state.capabilities[CAPABILITY] = runtime
    return runtime


def scheduled_job(state: ResilienceState) -> ScheduledJob | None:
    """The daily job (``RESILIENCE_ARCHIVE_SCHEDULE``) of the app of ``state``, None when off.

    The extension hands it to ``res.jobs.periodic``; this package does not import jobs.
    """
    runtime: MetricsRuntime = state.capabilities[CAPABILITY]
    return tasks.scheduled_job(runtime.settings)


def get_metric_count_by_age(app: Flask | None = None) -> dict[str, dict[str, int]]:
    """Rows per age bucket in the live and archive tables of ``app`` (default: current app)."""
    return MetricsAPI(app).get_metric_count_by_age()


__all__ = [
    "ArchiveInterrupted",
    "ArchiveReport",
    "ArchiveSettings",
    "EnsureReport",
    "MaintenanceBusy",
    "MetricBucket",
    "MetricPoint",
    "MetricsAPI",
    "MetricsRuntime",
    "MovedMonth",
    "PartitionInfo",
    "ScheduledJob",
    "get_metric_count_by_age",
    "init_app",
    "metrics_api",
    "scheduled_job",
]
