"""What happens around a task's function when a worker runs it.

The wrapper runs in the process that executes the job (the forked work horse, a
``SimpleWorker``, or the embedded thread), so it works under any RQ worker, ours or ``rq worker``:

- marks the status record ``started``, counts the attempt and takes a *lease* (a short-TTL key
  renewed by a thread while the function runs; a worker's sweep treats a started job without a
  lease as abandoned, see ``reaper.py``);
- exposes :func:`current_job_progress`;
- classifies a failure: retried by RQ's ``Retry`` (status ``scheduled`` or ``queued``), given up
  early because the error is permanent (``failed``), or out of attempts (``dead``: kept in the
  dead-letter set, logged at ERROR with its traceback and attempt count).
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rq import get_current_job

from . import records, unique

logger = logging.getLogger("flask_resilience.jobs")


class PermanentJobError(Exception):
    """Raise it (or a subclass) from a task to fail the job at once, without retries.

    >>> raise PermanentJobError("line 3: a question needs at least two options")
    Traceback (most recent call last):
    ...
    flask_resilience.jobs.execution.PermanentJobError: line 3: a question needs at least two options
    """


@dataclass(frozen=True, slots=True)
class Running:
    """The job the current context is running: where its progress goes."""

    connection: Any
    job_id: str
    status_ttl: int


_running: contextvars.ContextVar[Running | None] = contextvars.ContextVar(
    "resilience_job", default=None
)


def current_job_progress(percent: float, message: str | None = None) -> None:
    """Record the running job's progress (0-100) and an optional message for the status API.

    A no-op outside a job, so a task's function can also be called directly in tests. Best
    effort: while Redis does not answer, the report is logged and dropped, the task goes on.
    """
    running = _running.get()
    if running is None:
        return
    if not 0 <= percent <= 100:
        raise ValueError("percent is between 0 and 100")
    try:
        with running.connection.pipeline(transaction=False) as pipe:
            records.write(
                pipe, running.job_id, running.status_ttl, percent=float(percent), message=message
            )
            pipe.execute()
    except records.REDIS_DOWN as exc:
        # Progress is for people watching; a Redis blip must not fail the work itself (and
        # use up an attempt). The next report, or the end of the job, brings the record up to date.
        logger.warning("could not record progress of job %s: %s", running.job_id, exc)


def current_job_id() -> str | None:
    """The id of the job this code runs in, or None outside a job."""
    running = _running.get()
    return running.job_id if running else None


class LeaseKeeper:
    """One daemon thread per process renewing the leases of the jobs it runs.

    Started lazily and per PID, so a forked work horse gets its own (threads do not survive
    ``fork``) and a worker process that never runs a task never starts one. Every ``hold`` wakes
    the thread: it may be sleeping a third of a longer lease (or of the idle default), and a
    job with a shorter lease must be renewed before that sleep would end, or a sweep would take
    the running job for abandoned and run it twice.
    """

    IDLE_SECONDS = 15

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[Any, int]] = {}
        self._pid = 0
        self._wake = threading.Event()

    def hold(self, connection: Any, job_id: str, seconds: int) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (or a fresh fork)
                self._pid = os.getpid()
                self._held = {}
                self._wake = threading.Event()
                threading.Thread(target=self._run, name="resilience-job-lease", daemon=True).start()
            self._held[job_id] = (connection, seconds)
            self._wake.set()

    def release(self, job_id: str) -> None:
        with self._lock:
            self._held.pop(job_id, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                held = list(self._held.items())
                wake = self._wake
                wake.clear()
            for job_id, (connection, seconds) in held:
                try:
                    connection.set(records.lease_key(job_id), 1, ex=seconds, xx=True)
                except Exception:  # pragma: no cover - Redis blip; the next round retries
                    logger.warning("could not renew the lease of job %s", job_id)
            period = min((seconds for _, (_, seconds) in held), default=self.IDLE_SECONDS) / 3
            wake.wait(period)


LEASES = LeaseKeeper()


def run_task(
    spec: Any,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    connection: Any,
    status_ttl: int,
    lease_seconds: int,
    retry_on: Callable[[BaseException], bool],
) -> Any:
    """Run ``func`` as the current RQ job, keeping its status record and lease."""
    job: Any = get_current_job()
    job_id = job.id
    started = time.perf_counter()
    with connection.pipeline(transaction=False) as pipe:
        records.write(
            pipe,
            job_id,
            status_ttl,
            status="started",
            started_at=records.utc_now(),
            pid=os.getpid(),  # == the worker's pid in a simple or embedded worker (no horse)
        )
        pipe.hincrby(records.record_key(job_id), "attempts", 1)
        pipe.set(records.lease_key(job_id), 1, ex=lease_seconds)
        attempt = int(pipe.execute()[-2])
    LEASES.hold(connection, job_id, lease_seconds)
    token = _running.set(Running(connection, job_id, status_ttl))
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:
        LEASES.release(job_id)
        _record_failure(job, spec, exc, attempt, started, connection, status_ttl, retry_on)
        raise
    else:
        LEASES.release(job_id)
        _record_success(job_id, spec, result, started, connection, status_ttl, args, kwargs)
        return result
    finally:
        _running.reset(token)


def _record_success(
    job_id: str,
    spec: Any,
    result: Any,
    started: float,
    connection: Any,
    status_ttl: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    with connection.pipeline(transaction=False) as pipe:
        records.write(
            pipe,
            job_id,
            status_ttl,
            status="finished",
            ended_at=records.utc_now(),
            result=_result_json(result),
            error=None,
        )
        pipe.delete(records.lease_key(job_id))
        records.count(pipe, "finished", spec.name)
        records.observe_duration(pipe, spec.name, time.perf_counter() - started)
        if spec.unique:
            unique.release(pipe, spec, args, kwargs, job_id)
        pipe.execute()


def _record_failure(
    job: Any,
    spec: Any,
    exc: BaseException,
    attempt: int,
    started: float,
    connection: Any,
    status_ttl: int,
    retry_on: Callable[[BaseException], bool],
) -> None:
    retryable = not isinstance(exc, PermanentJobError) and retry_on(exc)
    if not retryable:
        job.retries_left = 0  # RQ reads this right after we re-raise: no retry
    will_retry = bool(job.retries_left)
    summary = records.error_summary(exc)
    with connection.pipeline(transaction=False) as pipe:
        pipe.delete(records.lease_key(job.id))
        records.observe_duration(pipe, spec.name, time.perf_counter() - started)
        if will_retry:
            status = "scheduled" if job.get_retry_interval() else "queued"
            records.write(pipe, job.id, status_ttl, status=status, error=summary)
            records.count(pipe, "retried", spec.name)
        else:
            status = "dead" if retryable else "failed"
            mark_ended(pipe, job.id, spec.name, status, summary, status_ttl, queue=job.origin)
            pipe.hset(records.record_key(job.id), "traceback", traceback.format_exc()[-8000:])
            if spec.unique:
                unique.release(pipe, spec, job.args, job.kwargs, job.id)
        pipe.execute()
    if not will_retry:
        log_give_up(job.id, spec.name, status, attempt, exc)


def mark_ended(
    pipe: Any, job_id: str, task: str, status: str, error: str, ttl: int, *, queue: str
) -> None:
    """Record a job that will not run again on its own: ``failed`` or ``dead``."""
    records.write(pipe, job_id, ttl, status=status, error=error, ended_at=records.utc_now())
    records.count(pipe, "failed", task)
    if status == "dead":
        pipe.zadd(records.dead_key(queue), {job_id: time.time()})
        records.count(pipe, "dead", task)


def log_give_up(
    job_id: str, task: str, status: str, attempts: int, exc: BaseException | None
) -> None:
    """One ERROR line per job that gave up, with its id, attempt count and traceback."""
    logger.error(
        "job %s (%s) is %s after %d attempt(s)%s",
        job_id,
        task,
        status,
        attempts,
        "" if exc is not None else ": its worker died",
        exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
    )


def _result_json(result: Any) -> str | None:
    import json

    try:
        return json.dumps(result)
    except (TypeError, ValueError):
        return json.dumps(repr(result)[:2000])
