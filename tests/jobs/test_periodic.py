"""Periodic jobs: period arithmetic, one enqueue per period with three schedulers at once, and
the misfire policy; time is an injected clock, never a sleep."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from flask_resilience import get_state
from flask_resilience.jobs import Schedule, runtime
from flask_resilience.jobs.maintenance import Maintenance
from flask_resilience.jobs.periodic import LEADER_KEY

from . import tasks
from .conftest import drain

START = datetime(2026, 11, 24, 1, 58, tzinfo=UTC)


class WallClock:
    """A settable wall clock shared by several schedulers."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_period_starts_for_cron_and_every() -> None:
    """Cron periods start at the latest matching minute; every= slots align to a fixed epoch."""
    daily = Schedule(cron="0 2 * * *")
    assert daily.period_start(datetime(2026, 11, 24, 2, 0, tzinfo=UTC)).hour == 2
    assert daily.period_start(datetime(2026, 11, 24, 1, 59, tzinfo=UTC)).day == 23
    assert daily.length(datetime(2026, 11, 24, 2, 0, tzinfo=UTC)) == timedelta(days=1)
    every = Schedule(every=timedelta(minutes=5))
    assert every.period_start(datetime(2026, 11, 24, 2, 9, 59, tzinfo=UTC)).minute == 5


def test_misfire_grace_skips_stale_periods() -> None:
    """A daily job is run late within the grace, and not at all when the period is older."""
    daily = Schedule(cron="0 2 * * *", misfire_grace=timedelta(minutes=30))
    assert daily.due(datetime(2026, 11, 24, 2, 20, tzinfo=UTC)) is not None
    assert daily.due(datetime(2026, 11, 24, 15, 0, tzinfo=UTC)) is None


def test_schedule_validation() -> None:
    """Exactly one of cron= and every= is required, and both are checked."""
    with pytest.raises(ValueError, match="exactly one"):
        Schedule()
    with pytest.raises(ValueError, match="invalid cron"):
        Schedule(cron="every day")
    with pytest.raises(ValueError, match="at least one second"):
        Schedule(every=timedelta(0))


def test_three_schedulers_enqueue_one_job_per_period(jobs_app: Flask) -> None:
    """Three schedulers ticking together over six periods enqueue exactly six jobs."""
    clock = WallClock(START)
    app_runtime = runtime(jobs_app)
    schedulers = [
        Maintenance(jobs_app, app_runtime, run_scheduler=True, now=clock) for _ in range(3)
    ]
    for _ in range(6):
        for _ in range(4):  # several ticks per period, from all three at once
            threads = [threading.Thread(target=lambda m=m: m.tick(force=True)) for m in schedulers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        with jobs_app.app_context():
            get_state().redis.delete(LEADER_KEY)  # leadership changes hands between periods
        clock.now += timedelta(minutes=5)
    with jobs_app.app_context():
        ids = runtime().queue("low").get_job_ids()
    assert len(ids) == 6 and len(set(ids)) == 6
    assert ids[0] == "periodic-tick-every-5m-20261124T015500Z"
    drain(jobs_app, queues=["low"])
    with jobs_app.app_context():
        assert int(get_state().redis.get("test:ticks")) == 6


def test_only_the_leader_schedules(jobs_app: Flask) -> None:
    """A scheduler that does not hold the lock does nothing; it takes over when freed."""
    clock = WallClock(START)
    leader, follower = (
        Maintenance(jobs_app, runtime(jobs_app), run_scheduler=True, now=clock) for _ in range(2)
    )
    assert leader.periodic is not None and follower.periodic is not None
    assert leader.periodic.tick() == ["periodic-tick-every-5m-20261124T015500Z"]
    clock.now += timedelta(minutes=5)
    assert follower.periodic.tick() == []
    leader.close()
    assert follower.periodic.tick() == ["periodic-tick-every-5m-20261124T020000Z"]


def test_periodic_task_is_a_task(jobs_app: Flask) -> None:
    """A periodic task can also be enqueued by hand and called directly."""
    assert [e.task.name for e in tasks.res.jobs.periodic_entries()] == ["tick-every-5m"]
    with jobs_app.app_context():
        assert tasks.tick.enqueue().queue == "low"
