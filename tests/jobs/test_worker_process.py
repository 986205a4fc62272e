"""Real ``flask resilience worker`` processes: forking and simple workers, warm shutdown on
SIGTERM, and a SIGKILLed worker's job retried within seconds, exactly once, never concurrently."""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections.abc import Callable

import pytest
from flask import Flask

from flask_resilience import get_state
from flask_resilience.jobs import records, runtime
from flask_resilience.jobs.worker import build_worker, build_worker_when_reachable

from . import tasks
from .conftest import RedisServer, WorkerProcess, wait_for
from .test_views import ADMIN


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
        dead_ids = get_state().redis.zrange(records.dead_key("default"), 0, -1)
    assert recovered is not None and recovered.status == "finished" and recovered.result == 2
    assert recovered.attempts == 2
    assert dead is not None and dead.status == "dead" and dead.attempts == 2
    assert dead.error is not None and "WorkHorseKilled" in dead.error
    assert dies.id.encode() in dead_ids


def test_a_worker_started_during_an_outage_waits_for_redis(
    process_app: Flask, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Building a worker while Redis is down waits (one warning, capped backoff) instead of
    dying in RQ's constructor; Redis comes back during the first wait and the worker runs."""
    redis_server.stop()
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the injected clock: Redis returns during a wait
        waits.append(seconds)
        if len(waits) == 3:
            redis_server.start()

    with caplog.at_level(logging.WARNING, logger="flask_resilience.jobs"):
        worker = build_worker_when_reachable(
            process_app, runtime(process_app), sleep=sleep, simple=True
        )
    assert waits == [0.5, 1.0, 2.0]
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "Redis does not answer" in caplog.records[0].message
    with process_app.app_context():
        handle = tasks.add.enqueue(2, 3)
    worker.work(burst=True, logging_level="WARNING")
    assert _status(process_app, handle.id) == "finished"


def test_redis_calls_outside_rqs_retry_loop_do_not_end_the_worker(
    process_app: Flask, redis_server: RedisServer
) -> None:
    """RQ retries a lost connection only inside its dequeue; the suspension check, the
    heartbeat after a job and the state write that opens each dequeue slice raise into
    ``work()``, which quits. Ours wait instead: with Redis down they return, and the dequeue
    backs off (the injected sleep) until Redis is back, then hands over the waiting job."""
    worker = build_worker(process_app, runtime(process_app), simple=True)
    redis_server.stop()
    worker.check_for_suspension(False)
    worker.heartbeat()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            redis_server.start()
            with process_app.app_context():
                tasks.add.enqueue(4, 5)

    worker.sleep = sleep  # type: ignore[method-assign]
    result = worker.dequeue_job_and_maintain_ttl(timeout=5, max_idle_time=None)
    assert waits == [1.0, 2.0]
    assert result is not None and result[0].args == [4, 5]


def test_cancel_of_a_running_job_stops_a_work_horse_but_is_409_on_a_simple_worker(
    process_app: Flask, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    """RQ's stop command kills the work horse: a forked job is stopped and canceled. A simple
    worker has no horse and would run on, so the admin API refuses with 409 rather than
    report a cancel that does not happen; the job then finishes."""
    client = process_app.test_client()
    forked, simple = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    with process_app.app_context():
        on_horse = tasks.tracked.enqueue(forked, 30.0)
    forking = spawn_worker()
    wait_for(lambda: _count(process_app, f"test:starts:{forked}"), 20, "the forked job to start")
    stopped = client.post(f"/resilience/admin/jobs/{on_horse.id}/cancel", headers=ADMIN)
    assert stopped.status_code == 200 and stopped.get_json()["status"] == "canceled"
    horse = _count(process_app, f"test:runner:{forked}")
    wait_for(lambda: not tasks._alive(horse), 10, "the work horse to be killed")
    assert _status(process_app, on_horse.id) == "canceled"
    assert _count(process_app, f"test:done:{forked}") == 0
    forking.stop()  # out of the way: the next job must go to the simple worker

    with process_app.app_context():
        in_worker = tasks.tracked.enqueue(simple, 1.0)
    spawn_worker("--simple")
    wait_for(lambda: _count(process_app, f"test:starts:{simple}"), 20, "the simple job to start")
    refused = client.post(f"/resilience/admin/jobs/{in_worker.id}/cancel", headers=ADMIN)
    assert refused.status_code == 409 and "simple" in refused.get_json()["detail"]
    wait_for(lambda: _status(process_app, in_worker.id) == "finished", 20, "the job to finish")
