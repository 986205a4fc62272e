"""Real ``flask resilience worker`` processes: forking and simple workers, warm shutdown on
SIGTERM, and a SIGKILLed worker's job retried within seconds, exactly once, never concurrently."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable

from flask import Flask

from flask_resilience import get_state
from flask_resilience.jobs import records

from . import tasks
from .conftest import WorkerProcess, wait_for


def _count(app: Flask, key: str) -> int:
    with app.app_context():
        value = get_state().redis.get(key)
    return int(value or 0)


def _status(app: Flask, job_id: str) -> str | None:
    with app.app_context():
        record = tasks.res.jobs.status(job_id)
    return record.status if record else None


def test_forking_and_simple_workers_run_jobs_in_burst(
    process_app: Flask, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    """Both worker kinds run queued jobs in the app context and exit when the queues are empty."""
    with process_app.app_context():
        forked, simple = tasks.app_name.enqueue(), tasks.add.enqueue(1, 2)
    assert spawn_worker("--burst").wait(30) == 0
    assert spawn_worker("--burst", "--simple", "--queues", "default").wait(30) == 0
    with process_app.app_context():
        assert tasks.res.jobs.status(forked.id).result == "jobs_test_app"  # type: ignore[union-attr]
        assert tasks.res.jobs.status(simple.id).result == 3  # type: ignore[union-attr]


def test_sigterm_finishes_the_current_job_first(
    process_app: Flask, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    """SIGTERM is a warm shutdown: the running job completes, then the worker exits."""
    token = uuid.uuid4().hex[:8]
    with process_app.app_context():
        handle = tasks.tracked.enqueue(token, 1.0)
    worker = spawn_worker()
    wait_for(lambda: _count(process_app, f"test:starts:{token}"), 20, "the job to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert _status(process_app, handle.id) == "finished"
    assert _count(process_app, f"test:done:{token}") == 1


def test_sigkilled_worker_job_is_retried_once_not_concurrently(
    process_app: Flask, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    """A job whose worker is SIGKILLed mid-run dies with it, is detected and retried by another
    worker within 60 s, runs to completion once and never overlaps the killed run."""
    token = uuid.uuid4().hex[:8]
    with process_app.app_context():
        handle = tasks.tracked.enqueue(token, 2.0)
    first = spawn_worker()
    wait_for(lambda: _count(process_app, f"test:starts:{token}"), 20, "the first run to start")
    horse = _count(process_app, f"test:runner:{token}")
    first.signal(signal.SIGKILL)
    first.wait(10)
    wait_for(lambda: not tasks._alive(horse), 5, "the work horse to die with its worker")
    killed_at = time.monotonic()
    spawn_worker()
    wait_for(lambda: _status(process_app, handle.id) == "finished", 60, "the retried job to finish")
    assert time.monotonic() - killed_at < 60
    assert _count(process_app, f"test:starts:{token}") == 2
    assert _count(process_app, f"test:done:{token}") == 1
    assert _count(process_app, f"test:overlap:{token}") == 0
    with process_app.app_context():
        record = tasks.res.jobs.status(handle.id)
    assert record is not None and record.attempts == 2
    assert horse != os.getpid()


def test_a_horse_killed_on_its_own_leaves_a_record_that_matches_rq(
    process_app: Flask, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    """The worker survives a SIGKILLed work horse (the OOM killer's way) and RQ retries or fails
    the job; the status record follows RQ instead of saying ``started`` forever: retried then
    finished when the second run succeeds, ``dead`` with the reason when every run is killed."""
    token = uuid.uuid4().hex[:8]
    with process_app.app_context():
        recovers = tasks.kills_its_horse.enqueue(f"{token}-once", False)
        dies = tasks.kills_its_horse.enqueue(f"{token}-always", True)
    assert spawn_worker("--burst").wait(60) == 0
    with process_app.app_context():
        recovered, dead = tasks.res.jobs.status(recovers.id), tasks.res.jobs.status(dies.id)
        dead_ids = get_state().redis.zrange(records.DEAD_KEY, 0, -1)
    assert recovered is not None and recovered.status == "finished" and recovered.result == 2
    assert recovered.attempts == 2
    assert dead is not None and dead.status == "dead" and dead.attempts == 2
    assert dead.error is not None and "WorkHorseKilled" in dead.error
    assert dies.id.encode() in dead_ids
