"""Reading across live and archive: partition pruning, ordering and summaries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from flask_resilience import Resilience, get_state
from flask_resilience.archive.query import bucket_expression, points_query

from .conftest import JAN

App = tuple[Flask, Resilience]


def _plan(app: Flask, start: datetime, end: datetime) -> str:
    statement = points_query("s", start, end, limit=100)
    with get_state(app).engine.connect() as connection:
        compiled = statement.compile(dialect=connection.dialect)
        rows = connection.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params)
        return "\n".join(row[0] for row in rows)


def test_one_month_query_touches_one_partition_per_table(pg: App) -> None:
    """EXPLAIN of a one-month query scans one live and one archive partition, no others."""
    app, res = pg
    rows = [("s", 1.0, i, JAN + timedelta(days=i)) for i in range(110)]
    with app.app_context():
        res.metrics.record_many(rows)
        res.metrics.ensure_partitions(ahead=0, now=datetime(2024, 5, 1, tzinfo=UTC))
        res.metrics.archive(now=datetime(2024, 3, 10, tzinfo=UTC))  # January moves
    for month, live, archived in ((1, 0, 1), (3, 1, 0)):
        start = JAN.replace(month=month)
        plan = _plan(app, start, start.replace(month=month + 1))
        scanned = set(re.findall(r" on (resilience_metrics\w*)", plan))
        assert len({name for name in scanned if "_archive_" not in name}) <= 1, plan
        assert len({name for name in scanned if "_archive_" in name}) <= 1, plan
        assert any(f"y2024m{month:02d}" in name for name in scanned), plan
        assert (f"resilience_metrics_y2024m{month:02d}" in scanned) == bool(live)
        assert (f"resilience_metrics_archive_y2024m{month:02d}" in scanned) == bool(archived)


def test_query_merges_live_and_archive_in_order(any_app: App) -> None:
    """One query returns archived January before live March, in step or time order."""
    app, res = any_app
    rows = [
        ("s", float(i), 10 - i, JAN.replace(month=1 + 2 * (i % 2)) + timedelta(hours=i))
        for i in range(10)
    ]
    with app.app_context():
        res.metrics.record_many(rows)
        res.metrics.archive(now=datetime(2024, 4, 15, tzinfo=UTC))
        by_time = res.metrics.query("s")
        by_step = res.metrics.query("s", order="step")
        live_only = res.metrics.query("s", include_archived=False)
        window = res.metrics.query("s", start=JAN.replace(month=3), limit=2)
    assert [p.recorded_at for p in by_time] == sorted(p.recorded_at for p in by_time)
    assert [p.step for p in by_step] == sorted(p.step or 0 for p in by_step)
    assert by_time[0].archived and not by_time[-1].archived
    assert len(live_only) == 5 and not any(p.archived for p in live_only)
    assert [p.value for p in window] == [1.0, 3.0]


def test_summary_buckets(any_app: App) -> None:
    """Hourly and 15-minute buckets count, min, max and average the right points."""
    app, res = any_app
    rows = [("s", float(i), i, JAN + timedelta(minutes=10 * i)) for i in range(12)]
    with app.app_context():
        res.metrics.record_many(rows)
        hourly = res.metrics.summary("s", "1 hour")
        quarter = res.metrics.summary("s", "15 minutes", end=JAN + timedelta(minutes=30))
        monthly = res.metrics.summary("s", "month")
    assert [(b.start, b.count, b.min, b.max, b.avg) for b in hourly] == [
        (JAN, 6, 0.0, 5.0, 2.5),
        (JAN + timedelta(hours=1), 6, 6.0, 11.0, 8.5),
    ]
    assert [(b.start, b.count) for b in quarter] == [(JAN, 2), (JAN + timedelta(minutes=15), 1)]
    assert [(b.start, b.count) for b in monthly] == [(JAN, 12)]


def test_bucket_expression_rejects_nonsense() -> None:
    """Unknown units and multi-month buckets are refused before any SQL runs."""
    assert "date_trunc('hour'" in bucket_expression("postgresql", "1 hour")
    assert "strftime" in bucket_expression("sqlite", "2 days")
    for bad in ("1 fortnight", "2 months", "0 hours"):
        with pytest.raises(ValueError):
            bucket_expression("postgresql", bad)
