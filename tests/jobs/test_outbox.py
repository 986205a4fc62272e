"""Durable enqueue: with Redis down, jobs go to the outbox table (pending) and the relay moves
them into RQ exactly once when Redis is back."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from rq import Worker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flask_resilience import get_state
from flask_resilience.jobs.models import OutboxJob

from . import tasks
from .conftest import RedisServer, WorkerProcess, drain, wait_for


@pytest.fixture
def outbox_app(
    make_jobs_app: Callable[..., Flask], db_url: str, redis_server: RedisServer
) -> Flask:
    from flask_resilience import schema

    app = make_jobs_app(
        {"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_server.url}
    )
    schema.upgrade(app)
    return app


def _outbox_rows(app: Flask) -> int:
    with Session(get_state(app).engine) as session:
        return session.scalar(select(func.count()).select_from(OutboxJob)) or 0


def test_jobs_survive_a_redis_outage_and_run_exactly_once(
    outbox_app: Flask, redis_server: RedisServer
) -> None:
    """Redis stopped: 100 enqueues are pending in the outbox; Redis back: all run exactly once."""
    token = uuid.uuid4().hex[:8]
    redis_server.stop()
    with outbox_app.test_request_context("/", headers={"X-User": "alice"}):
        handles = [tasks.count_run.enqueue(token, index) for index in range(100)]
    assert {h.status for h in handles} == {"pending"} and _outbox_rows(outbox_app) == 100
    client = outbox_app.test_client()
    pending = client.get(handles[0].status_url, headers={"X-User": "alice"})
    assert pending.status_code == 200 and pending.get_json()["status"] == "pending"
    assert client.get("/resilience/jobs/unknown").status_code == 503
    redis_server.start()
    moved: list[int] = []

    def relay() -> None:
        with outbox_app.app_context():
            moved.append(tasks.res.jobs.relay())

    relays = [threading.Thread(target=relay) for _ in range(3)]
    for thread in relays:
        thread.start()
    for thread in relays:
        thread.join()
    assert sum(moved) == 100 and len(moved) == 3
    assert _outbox_rows(outbox_app) == 0
    drain(outbox_app)
    with outbox_app.app_context():
        runs = get_state().redis.hgetall(f"test:runs:{token}")
        record = tasks.res.jobs.status(handles[0].id)
    assert {int(k): int(v) for k, v in runs.items()} == {i: 1 for i in range(100)}
    assert record is not None and record.status == "finished" and record.owner == "alice"


def test_outbox_row_joins_the_callers_transaction(
    outbox_app: Flask, redis_server: RedisServer
) -> None:
    """With the caller's session, the outbox row commits or rolls back with the caller."""
    redis_server.stop()
    engine = get_state(outbox_app).engine
    with outbox_app.app_context():
        with Session(engine) as session:
            handle = tasks.add.enqueue_call((1, 2), session=session)
            session.rollback()
        assert handle.status == "pending" and _outbox_rows(outbox_app) == 0
        with Session(engine) as session, session.begin():
            tasks.add.enqueue_call((1, 2), session=session)
    assert _outbox_rows(outbox_app) == 1


def test_workers_relay_the_outbox_on_their_own(
    outbox_app: Flask, redis_server: RedisServer
) -> None:
    """A worker's maintenance tick relays outbox rows without an operator."""
    redis_server.stop()
    with outbox_app.app_context():
        handle = tasks.add.enqueue(2, 2)
    redis_server.start()
    started = time.monotonic()
    drain(outbox_app)
    with outbox_app.app_context():
        wait_for(lambda: tasks.res.jobs.status(handle.id), 5, "the relayed job")
        record = tasks.res.jobs.status(handle.id)
    assert record is not None and record.status in ("queued", "finished")
    assert time.monotonic() - started < 5


def test_running_workers_relay_and_run_outbox_jobs_after_an_outage(
    process_app: Flask, redis_server: RedisServer, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    """Real worker processes (one forking, one simple) ride out a Redis outage; the 100 jobs
    enqueued during it wait in the outbox, and once Redis is back the workers' own relay moves
    them into RQ and they run, each exactly once, with no relay called by the test."""
    token = uuid.uuid4().hex[:8]
    workers = [spawn_worker(), spawn_worker("--simple")]
    with process_app.app_context():
        connection = get_state().redis
    wait_for(lambda: len(Worker.all(connection=connection)) == 2, 30, "both workers to start")
    with process_app.app_context():  # Redis goes away right after a job, as workers wrap up
        last = tasks.app_name.enqueue()
    wait_for(lambda: _status(process_app, last.id) == "finished", 30, "the last job before")
    redis_server.stop()
    with process_app.app_context():
        handles = [tasks.count_run.enqueue(token, index) for index in range(100)]
    assert {h.status for h in handles} == {"pending"} and _outbox_rows(process_app) == 100
    redis_server.start()
    wait_for(lambda: _runs(process_app, token) == 100, 60, "all 100 outbox jobs to run")
    assert _outbox_rows(process_app) == 0
    runs = _run_counts(process_app, token)
    assert runs == {i: 1 for i in range(100)}
    dead = [worker.output()[-3000:] for worker in workers if worker.process.poll() is not None]
    assert dead == []  # both rode it out
    assert {_status(process_app, h.id) for h in handles} == {"finished"}


def _status(app: Flask, job_id: str) -> str | None:
    try:
        with app.app_context():
            record = tasks.res.jobs.status(job_id)
    except Exception:  # Redis still restarting
        return None
    return record.status if record else None


def _run_counts(app: Flask, token: str) -> dict[int, int]:
    with app.app_context():
        runs = get_state().redis.hgetall(f"test:runs:{token}")
    return {int(k): int(v) for k, v in runs.items()}


def _runs(app: Flask, token: str) -> int:
    try:
        return sum(_run_counts(app, token).values())
    except Exception:  # Redis still restarting
        return 0
