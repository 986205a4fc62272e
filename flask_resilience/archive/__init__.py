"""Time-series metrics in monthly partitions, archived by moving partitions, queried as one table.

``init_app`` validates the ``RESILIENCE_ARCHIVE_*`` keys and stores a :class:`MetricsRuntime` in
``state.capabilities["archive"]``; ``res.metrics`` (a :class:`MetricsAPI`) records, queries,
summarises and archives. See ``docs/metrics-archive.md`` for the partitioning design.
"""

from __future__ import annotations

from flask import Flask

from ..state import ResilienceState
from .api import CAPABILITY, MetricsAPI, MetricsRuntime, metrics_api
from .archival import ArchiveReport, MovedMonth
from .catalog import PartitionInfo
from .config import ArchiveSettings
from .maintenance import EnsureReport, MaintenanceBusy
from .query import MetricBucket, MetricPoint


def init_app(app: Flask, state: ResilienceState) -> MetricsRuntime:
    """Read the archive settings (raising ConfigurationError early) and build the runtime."""
    runtime = MetricsRuntime(state.engine, ArchiveSettings.from_reader(state.config))
    state.capabilities[CAPABILITY] = runtime
    return runtime


def get_metric_count_by_age(app: Flask | None = None) -> dict[str, dict[str, int]]:
    """Rows per age bucket in the live and archive tables of ``app`` (default: current app)."""
    return MetricsAPI(app).get_metric_count_by_age()


__all__ = [
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
    "get_metric_count_by_age",
    "init_app",
    "metrics_api",
]
