"""The daily metric maintenance job, as a plain function of an app.

Referred to by dotted path (``"flask_resilience.archive.tasks:archive_old_metrics"``) so the jobs
capability can schedule it (daily at 02:00) without this package importing jobs.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from .api import MetricsAPI

logger = logging.getLogger("flask_resilience.archive")


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


__all__ = ["archive_old_metrics"]
