"""Operator actions on jobs, shared by the Python API, the admin routes and the CLI."""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.serializers import JSONSerializer
from rq.worker import Worker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..state import get_state
from . import records
from .models import OutboxJob
from .runtime import JobsRuntime

SLOT = "jobs"
REGISTRIES: dict[str, Any] = {
    "started": StartedJobRegistry,
    "scheduled": ScheduledJobRegistry,
    "finished": FinishedJobRegistry,
    "failed": FailedJobRegistry,
    "deferred": DeferredJobRegistry,
    "canceled": CanceledJobRegistry,
}
LISTABLE = ("queued", *REGISTRIES, "dead", "pending")


class JobNotFound(LookupError):
    """No job has this id (or its records expired)."""


class JobConflict(Exception):
    """The action does not apply to the job's current state (retrying a running job...)."""


def runtime_of(app: Flask) -> JobsRuntime:
    runtime: JobsRuntime = get_state(app).capabilities[SLOT]
    return runtime


def fetch(runtime: JobsRuntime, job_id: str) -> Any:
    try:
        return Job.fetch(job_id, connection=runtime.connection, serializer=JSONSerializer)
    except NoSuchJobError as exc:
        raise JobNotFound(job_id) from exc


def retry_job(runtime: JobsRuntime, job_id: str) -> records.JobRecord:
    """Requeue a failed or dead job with a fresh retry budget; 409-worthy when not failed."""
    job = fetch(runtime, job_id)
    record = records.read_record(runtime.connection, job_id)
    max_attempts = record.max_attempts if record and record.max_attempts else 1
    job.retries_left = max_attempts - 1 or None
    registry = FailedJobRegistry(
        job.origin, connection=runtime.connection, serializer=JSONSerializer
    )
    try:
        registry.requeue(job)
    except InvalidJobOperation as exc:
        raise JobConflict(f"job {job_id} is not failed; only failed or dead jobs retry") from exc
    with runtime.connection.pipeline() as pipe:
        records.write(
            pipe,
            job_id,
            runtime.settings.status_ttl,
            status="queued",
            attempts=0,
            error=None,
            started_at=None,
            ended_at=None,
        )
        pipe.zrem(records.dead_key(job.origin), job_id)
        if record and record.task:
            records.count(pipe, "requeued", record.task)
        pipe.execute()
    runtime.queue(job.origin)  # embedded mode: make sure the worker thread runs
    found = records.read_record(runtime.connection, job_id)
    assert found is not None
    return found


def retry_dead(runtime: JobsRuntime, task: str | None = None) -> list[str]:
    """Requeue every dead job, or only those of ``task``; returns the ids requeued."""
    retried = []
    for queue in runtime.settings.queues:
        key = records.dead_key(queue)
        ids = [records.text(i) for i in runtime.connection.zrange(key, 0, -1)]
        for job_id, record in zip(ids, records.read_records(runtime.connection, ids), strict=True):
            if task is not None and (record is None or record.task != task):
                continue
            try:
                retry_job(runtime, job_id)
            except (JobNotFound, JobConflict):
                runtime.connection.zrem(key, job_id)
                continue
            retried.append(job_id)
    return retried


def cancel_job(runtime: JobsRuntime, job_id: str) -> records.JobRecord:
    """Cancel a waiting job; a running one is asked to stop (its work horse is killed)."""
    job = fetch(runtime, job_id)
    status = job.get_status()
    if status in ("finished", "failed", "canceled", "stopped"):
        raise JobConflict(f"job {job_id} is {status} already")
    if status == "started":
        if _runs_inside_its_worker(runtime.connection, job):
            raise JobConflict(
                f"job {job_id} runs inside its worker process (a simple or embedded worker), "
                "which cannot stop it without stopping itself; it ends on its own"
            )
        send_stop_job_command(runtime.connection, job_id, serializer=JSONSerializer)
    else:
        job.cancel()
    with runtime.connection.pipeline() as pipe:
        records.write(
            pipe,
            job_id,
            runtime.settings.status_ttl,
            status="canceled",
            ended_at=records.utc_now(),
        )
        pipe.execute()
    found = records.read_record(runtime.connection, job_id)
    assert found is not None
    return found


def _runs_inside_its_worker(connection: Any, job: Any) -> bool:
    """True when the job runs in its worker's own process rather than a forked work horse.

    RQ's stop command kills the work horse; a ``SimpleWorker`` has none and would go on running
    the job, so the record would say canceled while the job finishes. The job's wrapper writes
    the pid it runs under; the worker's hash has the worker's pid.
    """
    worker_name = job.worker_name
    if not worker_name:
        return False
    with connection.pipeline(transaction=False) as pipe:
        pipe.hget(records.record_key(job.id), "pid")
        pipe.hget(Worker.redis_worker_namespace_prefix + worker_name, "pid")
        job_pid, worker_pid = pipe.execute()
    return job_pid is not None and job_pid == worker_pid


def delete_job(runtime: JobsRuntime, job_id: str) -> None:
    """Delete everything known about a job; JobNotFound when nothing was."""
    known = False
    try:
        fetch(runtime, job_id).delete()
        known = True
    except JobNotFound:
        pass
    with runtime.connection.pipeline() as pipe:
        pipe.delete(records.record_key(job_id))
        for queue in runtime.settings.queues:
            pipe.zrem(records.dead_key(queue), job_id)
        removed = pipe.execute()
    known = known or bool(removed[0])
    with Session(runtime.state.engine) as session, session.begin():
        row = session.get(OutboxJob, job_id)
        if row is not None:
            session.delete(row)
            known = True
    if not known:
        raise JobNotFound(job_id)


def list_jobs(
    runtime: JobsRuntime, status: str, queue: str | None, page: int, per_page: int
) -> dict[str, Any]:
    """One page of the jobs in ``status`` (an RQ registry, the queue itself, dead, pending)."""
    if status not in LISTABLE:
        raise ValueError(f"status must be one of {', '.join(LISTABLE)}")
    queues = [queue] if queue else list(runtime.settings.queues)
    if status == "pending":
        return _pending_page(runtime, queues, page, per_page)
    sources = [_source(runtime, status, name) for name in queues]
    counts = [count() for count, _ in sources]
    start, ids = (page - 1) * per_page, list[str]()
    for (_, read), total in zip(sources, counts, strict=True):
        if start >= total:
            start -= total
            continue
        ids += read(start, per_page - len(ids))
        start = 0
        if len(ids) >= per_page:
            break
    found = records.read_records(runtime.connection, ids)
    jobs = [_row(job_id, record, status) for job_id, record in zip(ids, found, strict=True)]
    return {"jobs": jobs, "total": sum(counts), "page": page, "per_page": per_page}


def _source(runtime: JobsRuntime, status: str, queue: str) -> tuple[Any, Any]:
    """``(count(), read(offset, limit))`` of one queue's list of jobs in ``status``."""
    connection = runtime.connection
    if status == "dead":  # newest first, paged in Redis
        key = records.dead_key(queue)
        return (lambda: int(connection.zcard(key))), (
            lambda offset, limit: [
                records.text(i) for i in connection.zrevrange(key, offset, offset + limit - 1)
            ]
        )
    if status == "queued":
        rq_queue = runtime.queue(queue)
        return (lambda: rq_queue.count), (lambda offset, limit: rq_queue.get_job_ids(offset, limit))
    registry = REGISTRIES[status](queue, connection=connection, serializer=JSONSerializer)
    return (lambda: registry.count), (
        lambda offset, limit: registry.get_job_ids(offset, offset + limit - 1)
    )


def _pending_page(
    runtime: JobsRuntime, queues: list[str], page: int, per_page: int
) -> dict[str, Any]:
    with Session(runtime.state.engine) as session:
        where = OutboxJob.queue.in_(queues)
        total = session.scalar(select(func.count()).select_from(OutboxJob).where(where)) or 0
        rows = session.scalars(
            select(OutboxJob.id)
            .where(where)
            .order_by(OutboxJob.created_at)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
    jobs = [runtime.record(job_id) for job_id in rows]
    body = [record.as_json() for record in jobs if record is not None]
    return {"jobs": body, "total": total, "page": page, "per_page": per_page}


def _row(job_id: str, record: records.JobRecord | None, status: str) -> dict[str, Any]:
    if record is None:
        return {"id": job_id, "status": status, "task": None}
    return record.as_json()
