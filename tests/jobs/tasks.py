"""Tasks and an app factory shared by the job tests and the worker processes they spawn.

Workers are started as ``flask --app tests.jobs.tasks:create_app resilience worker``; the
configuration comes from ``RESILIENCE_*`` environment variables, as in production.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, request

from flask_resilience import Resilience, get_state
from flask_resilience.jobs import PermanentJobError, current_job_id, current_job_progress

res = Resilience()


@res.user_loader
def current_user() -> Any:
    return request.headers.get("X-User")


@res.admin_auth
def is_admin() -> bool:
    return request.headers.get("X-Admin") == "yes"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask("jobs_test_app")
    app.config.update(TESTING=True, SECRET_KEY="test")
    # The extension declares the daily metric archival job on every app; these tests count the
    # periodic jobs of their own tasks (the archive job has tests/archive/test_schedule.py).
    app.config["RESILIENCE_ARCHIVE_SCHEDULE"] = "off"
    app.config.update(config or {})
    res.init_app(app)
    return app


def _redis() -> Any:
    return get_state().redis


@res.jobs.task(name="add", queue="default", retries=0)
def add(a: int, b: int) -> int:
    return a + b


@res.jobs.task(name="app-name", queue="low", retries=0)
def app_name() -> str:
    return str(current_app.name)


@res.jobs.task(name="report", queue="low", retries=0)
def report(steps: int) -> dict[str, int]:
    """Reports progress at every step, then returns a summary."""
    for step in range(1, steps + 1):
        current_job_progress(100 * step / (steps + 1), f"step {step} of {steps}")
    return {"steps": steps}


@res.jobs.task(name="record-order", queue="default", retries=0)
def record_order(label: str) -> None:
    _redis().rpush("test:order", label)


@res.jobs.task(name="flaky", queue="high", retries=3, base_delay=0)
def flaky(token: str, failures: int) -> str:
    """Fails ``failures`` times, then succeeds."""
    if _redis().incr(f"test:flaky:{token}") <= failures:
        raise ConnectionError(f"upstream down (token {token})")
    return "ok"


@res.jobs.task(name="doomed", queue="high", retries=1, base_delay=0)
def doomed(token: str) -> None:
    _redis().incr(f"test:doomed:{token}")
    raise ValueError(f"cannot process {token}")


@res.jobs.task(name="malformed", queue="high", retries=3, base_delay=0)
def malformed(token: str) -> None:
    _redis().incr(f"test:malformed:{token}")
    raise PermanentJobError("line 3: a question needs at least two options")


@res.jobs.task(name="once", queue="default", retries=0, unique=True)
def once(key: str) -> str:
    return key


@res.jobs.task(name="count-run", queue="default", retries=0)
def count_run(token: str, index: int) -> None:
    """Counts every run of (token, index), so a test can prove each ran exactly once."""
    _redis().hincrby(f"test:runs:{token}", str(index), 1)


@res.jobs.task(name="tracked", queue="default", retries=2, base_delay=0, timeout=120)
def tracked(token: str, seconds: float) -> str:
    """Records its runner's PID, overlapping runs, starts and completions, and sleeps."""
    redis = _redis()
    previous = redis.getset(f"test:runner:{token}", os.getpid())
    if previous is not None and _alive(int(previous)):
        redis.incr(f"test:overlap:{token}")
    redis.incr(f"test:starts:{token}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    redis.incr(f"test:done:{token}")
    return str(current_job_id())


@res.jobs.task(name="kills-its-horse", queue="default", retries=1, base_delay=0)
def kills_its_horse(token: str, every_time: bool) -> int:
    """SIGKILLs the process running it (run it on a forking worker only): the first run only,
    or every run when ``every_time``; returns the run number otherwise."""
    run = int(_redis().incr(f"test:horse-runs:{token}"))
    if every_time or run == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return run


@res.jobs.periodic(every=timedelta(minutes=5), name="tick-every-5m", queue="low", retries=0)
def tick() -> None:
    _redis().incr("test:ticks")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
