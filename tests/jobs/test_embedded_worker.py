"""Embedded mode runs jobs on an in-process RQ worker thread, inside the app context."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable

import pytest
from flask import Flask, current_app
from rq.job import Job, JobStatus

from flask_resilience import ConfigurationError, get_state
from flask_resilience.jobs import get_queue, runtime


def app_name() -> str:
    """A job that proves it ran inside the app context."""
    return str(current_app.name)


def _wait(job: Job, seconds: float = 10.0) -> JobStatus:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in (JobStatus.FINISHED, JobStatus.FAILED):
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job.id} still {job.get_status()} after {seconds}s")


def test_embedded_jobs_run_in_process_with_app_context(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """A job enqueued in embedded mode runs on the worker thread and sees the app."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    worker = runtime(app).embedded_worker
    assert worker is not None and not worker.running
    try:
        add = get_queue("high", app).enqueue("operator.add", 2, 3)
        assert worker.running
        assert _wait(add) == JobStatus.FINISHED
        assert add.return_value() == 5
        named = get_queue("default", app).enqueue(f"{__name__}.app_name")
        assert _wait(named) == JobStatus.FINISHED
        assert named.return_value() == "test_app"
    finally:
        worker.stop()
    assert not worker.running


def test_job_arguments_are_json_not_pickle(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Queues use JSON, so a payload in Redis is readable JSON and objects are refused."""
    app = make_app(
        {"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_JOBS_EMBEDDED_WORKER": False}
    )
    queue = get_queue("low", app)
    job = queue.enqueue("operator.add", 1, 2)
    raw = get_state(app).redis.hget(f"rq:job:{job.id}", "data")
    assert raw is not None
    assert json.loads(zlib.decompress(raw)) == ["operator.add", None, [1, 2], {}]
    with pytest.raises(TypeError):
        queue.enqueue("operator.add", object(), 1)


def test_production_mode_starts_no_thread(app: Flask) -> None:
    """With a Redis URL, separate worker processes serve the queues; no thread is started."""
    assert runtime(app).embedded_worker is None
    assert get_queue("default", app).name == "default"


def test_unknown_queue_and_bad_queue_config(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """Unknown queue names and an empty queue list are clear errors."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_JOBS_EMBEDDED_WORKER": "0"})
    with pytest.raises(KeyError, match="high, default, low"):
        get_queue("urgent", app)
    with pytest.raises(ConfigurationError, match="RESILIENCE_JOBS_QUEUES"):
        make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_JOBS_QUEUES": " , "})


def test_declared_tasks_work_in_embedded_mode(sqlite_url: str) -> None:
    """With no Redis, a declared task runs on the in-process worker with status and retries."""
    from flask_resilience import schema

    from . import tasks

    app = tasks.create_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    try:
        schema.upgrade(app)
        with app.test_request_context("/"):
            handle = tasks.report.enqueue(2)
            flaky = tasks.flaky.enqueue("embedded", 1)
        client = app.test_client()
        for job_id, result in ((handle.id, {"steps": 2}), (flaky.id, "ok")):
            deadline = time.monotonic() + 10
            body = client.get(f"/resilience/jobs/{job_id}").get_json()
            while body["status"] != "finished" and time.monotonic() < deadline:
                time.sleep(0.02)
                body = client.get(f"/resilience/jobs/{job_id}").get_json()
            assert body["status"] == "finished" and body["result"] == result
    finally:
        tasks.res.close(app)
