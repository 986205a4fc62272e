"""Archiving old months: nothing lost or duplicated, whole months only, concurrency, retention."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import text

from flask_resilience import Resilience, get_state
from flask_resilience.archive import MaintenanceBusy
from flask_resilience.archive.archival import archive_months
from flask_resilience.archive.maintenance import maintenance_lock

from .conftest import JAN

App = tuple[Flask, Resilience]
NOW = datetime(2024, 4, 15, tzinfo=UTC)
"""With the default 30 days the cutoff is 2024-03-16: January and February are entirely older."""


def _fill(app: Flask, res: Resilience, per_month: int = 200) -> None:
    rows = []
    for month in range(4):
        start = JAN.replace(month=month + 1)
        rows += [
            ("s", float(i), month * per_month + i, start + timedelta(minutes=i))
            for i in range(per_month)
        ]
    rows += [("other", 1.0, None, JAN + timedelta(days=3))]
    with app.app_context():
        res.metrics.record_many(rows)


def _counts(app: Flask) -> tuple[int, int, int]:
    """(live rows, archive rows, distinct ids across both)."""
    with get_state(app).engine.connect() as connection:
        live = connection.execute(text("SELECT count(*) FROM resilience_metrics")).scalar_one()
        archive = connection.execute(
            text("SELECT count(*) FROM resilience_metrics_archive")
        ).scalar_one()
        distinct = connection.execute(
            text(
                "SELECT count(DISTINCT id) FROM (SELECT id FROM resilience_metrics "
                "UNION ALL SELECT id FROM resilience_metrics_archive) AS everything"
            )
        ).scalar_one()
    return int(live), int(archive), int(distinct)


def test_archive_moves_whole_months_and_keeps_every_row(any_app: App) -> None:
    """Jan and Feb move; March straddles the cutoff and stays; row totals and ids are unchanged."""
    app, res = any_app
    _fill(app, res)
    before = _counts(app)
    with app.app_context():
        report = res.metrics.archive(now=NOW)
        points = res.metrics.query("s")
    live, archive, distinct = _counts(app)
    assert [m.month.month for m in report.moved] == [1, 2]
    assert report.rows_moved == 401 == archive
    assert live + archive == before[0] + before[1] == distinct == 801
    assert len(points) == 800 and [p.step for p in points] == list(range(800))
    assert [p.archived for p in points].count(True) == 400


def test_dry_run_changes_nothing(any_app: App) -> None:
    """--dry-run reports the months and rows that would move and moves none."""
    app, res = any_app
    _fill(app, res)
    with app.app_context():
        report = res.metrics.archive(timedelta(days=30), dry_run=True, now=NOW)
    assert report.dry_run and report.rows_moved == 401
    assert _counts(app)[:2] == (801, 0)


def test_archive_twice_is_a_no_op(pg: App) -> None:
    """A second run finds nothing older than the cutoff still live."""
    app, res = pg
    _fill(app, res, per_month=10)
    with app.app_context():
        res.metrics.archive(now=NOW)
        assert res.metrics.archive(now=NOW).moved == ()


def test_concurrent_writer_loses_nothing(pg: App) -> None:
    """A thread inserting current rows throughout the archival has every insert kept."""
    app, res = pg
    _fill(app, res, per_month=2000)
    stop, written, errors = threading.Event(), [0], []

    def writer() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    res.metrics.record("live", 1.0, at=datetime(2024, 4, 1, 12, tzinfo=UTC))
                    written[0] += 1
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with app.app_context():
            report = res.metrics.archive(now=NOW)
    finally:
        stop.set()
        thread.join()
    assert not errors and written[0] > 0
    assert report.rows_moved == 4001
    with app.app_context():
        assert len(res.metrics.query("live", include_archived=False)) == written[0]
    assert _counts(app)[2] == 8001 + written[0]


def test_retention_drops_old_archive_months(pg: App) -> None:
    """Archived months past the drop cutoff are dropped; dry-run only reports them."""
    app, res = pg
    _fill(app, res, per_month=10)
    with app.app_context():
        res.metrics.archive(now=NOW)
        later = datetime(2024, 4, 20, tzinfo=UTC)
        preview = res.metrics.archive(now=later, drop_older_than=timedelta(days=70), dry_run=True)
        assert [m.partition for m in preview.dropped] == ["resilience_metrics_archive_y2024m01"]
        assert _counts(app)[1] == 21
        res.metrics.archive(now=later, drop_older_than=timedelta(days=70))
    assert _counts(app)[1] == 10


def test_retention_on_sqlite(make_app: object, sqlite_url: str) -> None:
    """On SQLite retention deletes archived rows of whole months past the drop cutoff."""
    from .conftest import build

    app, res = build(make_app, sqlite_url, RESILIENCE_ARCHIVE_DROP_AFTER_DAYS=70)  # type: ignore[arg-type]
    _fill(app, res, per_month=10)
    with app.app_context():
        report = res.metrics.archive(now=datetime(2024, 4, 20, tzinfo=UTC))
    assert report.rows_moved == 21 and [m.rows for m in report.dropped] == [11]
    assert _counts(app)[1] == 10


def test_stray_rows_of_an_archived_month_join_the_archive(pg: App) -> None:
    """A late row for an archived month waits in DEFAULT, then ensure moves it to the archive."""
    app, res = pg
    _fill(app, res, per_month=10)
    with app.app_context():
        res.metrics.archive(now=NOW)
        res.metrics.record("s", 9.0, at=JAN + timedelta(days=20))
        report = res.metrics.ensure_partitions(ahead=0, now=NOW)
        late = [p for p in res.metrics.query("s") if p.value == 9.0]
    assert report.moved_from_default == {"resilience_metrics_archive_y2024m01": 1}
    assert late and late[0].archived


def test_maintenance_lock_excludes_a_second_run(pg: App) -> None:
    """While one process holds the advisory lock, a second archive run is refused, not queued."""
    engine = get_state(pg[0]).engine
    with maintenance_lock(engine), pytest.raises(MaintenanceBusy):
        archive_months(engine, NOW, dry_run=True, lock_wait_seconds=0)
