"""Finding jobs whose worker died, within seconds instead of RQ's timeout plus ten minutes.

RQ notices a SIGKILLed or OOM-killed worker only when another worker's maintenance (every 10
minutes) finds the job's ``StartedJobRegistry`` entry expired, which happens a heartbeat TTL
after the last heartbeat. Our tasks hold a *lease* while they run (``execution.py``); a sweep run
by every worker of ours looks for started jobs of our tasks that have no lease and started more
than a lease ago, and hands them to RQ's own abandoned-job handling (retry if the job has
retries left, else fail), by moving just their registry entry into the past and calling
``StartedJobRegistry.cleanup``. A claim key per job and start time makes exactly one sweeper act.

A work horse whose parent worker dies is killed with it (``PR_SET_PDEATHSIG``, see
``worker.py``), so a reaped job is never still running elsewhere.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import Worker

from . import records
from .execution import log_give_up, mark_ended

logger = logging.getLogger("flask_resilience.jobs")
CLAIM_PREFIX = "resilience:jobs:reaping:"
ABANDONED = "AbandonedJobError: the worker running this job died"
HEARTBEAT_STALE_SECONDS = 30
"""Three of our workers' 10 s monitoring intervals: a worker silent for that long is dead."""


def find_abandoned(connection: Any, queue: str, grace_seconds: float, now: float) -> list[str]:
    """Ids of started jobs of our tasks on ``queue`` with no lease, started > grace ago, whose
    worker has not sent a heartbeat for :data:`HEARTBEAT_STALE_SECONDS`.

    The lease alone could be lost while the job still runs (its renewer thread starved by code
    that holds the GIL, a failover that dropped the key); the worker's own heartbeat, sent by
    RQ every monitoring interval from the process that waits for the work horse, says the
    worker is alive, and a job of a live worker is never taken for abandoned.
    """
    registry = StartedJobRegistry(queue, connection=connection, serializer=JSONSerializer)
    entries = [records.text(e) for e in connection.zrange(registry.key, 0, -1)]
    job_ids = [registry.parse_job_id(entry) for entry in entries]
    if not job_ids:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(records.lease_key(job_id))
            pipe.hmget(records.record_key(job_id), ["status", "started_at"])
        replies = pipe.execute()
    found = []
    for index, job_id in enumerate(job_ids):
        leased, (status, started_at) = replies[2 * index], replies[2 * index + 1]
        if leased or records.text(status) != "started" or started_at is None:
            continue
        started = datetime.fromisoformat(records.text(started_at)).timestamp()
        if now - started > grace_seconds:
            found.append(job_id)
    return [job_id for job_id in found if not _worker_alive(connection, job_id, now)]


def _worker_alive(connection: Any, job_id: str, now: float) -> bool:
    """True when the worker RQ says runs ``job_id`` sent a heartbeat recently."""
    worker_name = records.text(connection.hget(Job.key_for(job_id), "worker_name"))
    if not worker_name:
        return False
    beat = records.text(
        connection.hget(Worker.redis_worker_namespace_prefix + worker_name, "last_heartbeat")
    )
    if not beat:
        return False  # the worker's key expired or was removed: it is gone
    last = datetime.fromisoformat(beat.replace("Z", "+00:00"))
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return now - last.timestamp() < HEARTBEAT_STALE_SECONDS


def reap(connection: Any, queue: str, *, lease_seconds: int, status_ttl: int) -> list[str]:
    """Hand every abandoned job of ``queue`` back to its retry policy; returns their ids."""
    now = time.time()
    reaped = []
    registry = StartedJobRegistry(queue, connection=connection, serializer=JSONSerializer)
    for job_id in find_abandoned(connection, queue, lease_seconds, now):
        started = records.text(connection.hget(records.record_key(job_id), "started_at"))
        claim = f"{CLAIM_PREFIX}{job_id}:{started}"
        if not connection.set(claim, 1, nx=True, ex=3600):
            continue
        for entry in connection.zrange(registry.key, 0, -1):
            if registry.parse_job_id(records.text(entry)) == job_id:
                connection.zadd(registry.key, {entry: 1}, xx=True)
        registry.cleanup(timestamp=1.5)
        mirror_rq_outcome(connection, job_id, status_ttl, ABANDONED)
        reaped.append(job_id)
    return reaped


def mirror_rq_outcome(connection: Any, job_id: str, status_ttl: int, error: str) -> None:
    """Copy what RQ decided (retry or fail) for a job our wrapper could not finish recording.

    Used for a job whose worker died (the sweep) and for a work horse killed on its own (the
    OOM killer, a segfault, ``kill -9`` of the horse): the record still says ``started``.
    """
    rq_status = records.text(connection.hget(Job.key_for(job_id), "status"))
    fields = connection.hmget(records.record_key(job_id), ["task", "attempts", "queue"])
    task, attempts = records.text(fields[0]) or "?", int(records.text(fields[1]) or 0)
    queue = records.text(fields[2]) or records.text(connection.hget(Job.key_for(job_id), "origin"))
    with connection.pipeline(transaction=False) as pipe:
        if rq_status in ("queued", "scheduled"):
            records.write(pipe, job_id, status_ttl, status=rq_status, error=error)
            records.count(pipe, "retried", task)
            logger.warning("job %s (%s): %s; retrying", job_id, task, error)
        else:
            mark_ended(pipe, job_id, task, "dead", error, status_ttl, queue=queue)
        pipe.delete(records.lease_key(job_id))
        pipe.execute()
    if rq_status not in ("queued", "scheduled"):
        log_give_up(job_id, task, "dead", attempts, None)
