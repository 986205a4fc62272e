"""The daily maintenance job: declared on the jobs capability by default, switchable, and when a
real worker runs it, it ensures partitions (emptying DEFAULT) and then archives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import text

from flask_resilience import ConfigurationError, Resilience, get_state
from flask_resilience.archive.tasks import archive_old_metrics, run_metric_maintenance
from flask_resilience.jobs import runtime
from flask_resilience.jobs.maintenance import Maintenance
from flask_resilience.jobs.worker import build_worker

from .conftest import JAN, build

TWO_AM = datetime(2026, 11, 24, 2, 0, 30, tzinfo=UTC)
JOB_ID = "periodic-archive-metrics-20261124T020000Z"


def _entries(res: Resilience) -> dict[str, str | None]:
    return {entry.task.name: entry.schedule.cron for entry in res.jobs.periodic_entries()}


def test_daily_job_is_declared_by_default(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Without configuration the job runs ensure + archive at 02:00 UTC on the lowest queue."""
    _, res = build(make_app, sqlite_url)
    assert _entries(res) == {"archive-metrics": "0 2 * * *"}
    task = res.jobs.tasks()["archive-metrics"]
    assert task.spec.func == "flask_resilience.archive.tasks.run_metric_maintenance"
    assert task.spec.queue == "low" and task.spec.timeout == 3600


@pytest.mark.parametrize("value", ["off", "", "false", False])
def test_schedule_can_be_switched_off(
    make_app: Callable[..., Flask], sqlite_url: str, value: object
) -> None:
    """RESILIENCE_ARCHIVE_SCHEDULE=off (or empty, or false) declares no periodic job."""
    _, res = build(make_app, sqlite_url, RESILIENCE_ARCHIVE_SCHEDULE=value)
    assert _entries(res) == {}


def test_schedule_from_the_environment_and_its_queue(
    make_app: Callable[..., Flask], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cron expression may come from the environment; the queue is the last configured."""
    monkeypatch.setenv("RESILIENCE_ARCHIVE_SCHEDULE", "30 3 * * 1")
    _, res = build(make_app, sqlite_url, RESILIENCE_JOBS_QUEUES="urgent,background")
    assert _entries(res) == {"archive-metrics": "30 3 * * 1"}
    assert res.jobs.tasks()["archive-metrics"].spec.queue == "background"


def test_a_bad_schedule_fails_at_init(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """A value that is neither a cron expression nor off stops init_app, naming the key."""
    with pytest.raises(ConfigurationError, match="RESILIENCE_ARCHIVE_SCHEDULE"):
        build(make_app, sqlite_url, RESILIENCE_ARCHIVE_SCHEDULE="daily")


def test_a_worker_runs_the_scheduled_job_ensure_then_archive(
    make_app: Callable[..., Flask], db_url: str, redis_url: str
) -> None:
    """At 02:00 the scheduler enqueues the job once; a real burst worker runs it in the app:
    a stray row in DEFAULT gets its partition (ensure) and then moves to the archive."""
    app, res = build(make_app, db_url, RESILIENCE_REDIS_URL=redis_url)
    with app.app_context():
        res.metrics.ensure_partitions(ahead=0, now=JAN)
        res.metrics.record_many([("s", 1.0, i, JAN + timedelta(days=i)) for i in range(10)])
        res.metrics.record("stray", 2.0, at=datetime(2023, 6, 5, tzinfo=UTC))  # no partition
        assert _count(app, "resilience_metrics_default") == 1
    scheduler = Maintenance(app, runtime(app), run_scheduler=True, now=lambda: TWO_AM)
    assert scheduler.periodic is not None
    assert scheduler.periodic.tick() == [JOB_ID]
    assert scheduler.periodic.tick() == []  # once per period
    build_worker(app, runtime(app), simple=True).work(burst=True, logging_level="WARNING")
    job = Job.fetch(JOB_ID, connection=get_state(app).redis, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED
    result = job.return_value()
    assert result["ensure"]["moved_from_default"] == {"resilience_metrics_y2023m06": 1}
    moved = {month["partition"]: month["rows"] for month in result["archive"]["moved"]}
    assert moved == {
        "resilience_metrics_archive_y2023m06": 1,
        "resilience_metrics_archive_y2024m01": 10,
    }
    assert _count(app, "resilience_metrics_default") == 0
    assert _count(app, "resilience_metrics_archive") == 11
    this_month = f"resilience_metrics_{datetime.now(UTC):y%Ym%m}"
    assert _count(app, this_month) == 0  # ensure made the current month too


def test_the_job_is_skipped_for_an_app_that_switched_it_off(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """One Resilience object may serve two apps; the job does nothing in the one set to off."""
    res = Resilience()
    on = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}, init=False)
    off = make_app(
        {"RESILIENCE_DATABASE_URL": "sqlite://", "RESILIENCE_ARCHIVE_SCHEDULE": "off"},
        init=False,
    )
    res.init_app(on)
    res.init_app(off)
    assert _entries(res) == {"archive-metrics": "0 2 * * *"}
    with off.app_context():
        assert "skipped" in run_metric_maintenance()


def test_archive_old_metrics_on_sqlite(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """The task function works on SQLite too: ensure is a no-op, old months are copied."""
    app, res = build(make_app, sqlite_url)
    with app.app_context():
        res.metrics.record_many([("s", 1.0, i, JAN + timedelta(days=i)) for i in range(10)])
    report = archive_old_metrics(app)
    assert report["ensure"]["created"] == [] and report["archive"]["rows_moved"] == 10


def _count(app: Flask, table: str) -> int:
    with get_state(app).engine.connect() as connection:
        return int(connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
