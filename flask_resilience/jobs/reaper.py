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
from datetime import datetime
from typing import Any

from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from . import records
from .execution import log_give_up, mark_ended

logger = logging.getLogger("flask_resilience.jobs")
CLAIM_PREFIX = "resilience:jobs:reaping:"
ABANDONED = "AbandonedJobError: the worker running this job died"


def find_abandoned(connection: Any, queue: str, grace_seconds: float, now: float) -> list[str]:
    """Ids of started jobs of our tasks on ``queue`` with no lease, started > grace ago."""
    registry = StartedJobRegistry(queue, connection=connection, serializer=JSONSerializer)
    entries = [_text(e) for e in connection.zrange(registry.key, 0, -1)]
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
        if leased or _text(status) != "started" or started_at is None:
            continue
        started = datetime.fromisoformat(_text(started_at)).timestamp()
        if now - started > grace_seconds:
            found.append(job_id)
    return found


def reap(connection: Any, queue: str, *, lease_seconds: int, status_ttl: int) -> list[str]:
    """Hand every abandoned job of ``queue`` back to its retry policy; returns their ids."""
    now = time.time()
    reaped = []
    registry = StartedJobRegistry(queue, connection=connection, serializer=JSONSerializer)
    for job_id in find_abandoned(connection, queue, lease_seconds, now):
        started = _text(connection.hget(records.record_key(job_id), "started_at"))
        claim = f"{CLAIM_PREFIX}{job_id}:{started}"
        if not connection.set(claim, 1, nx=True, ex=3600):
            continue
        for entry in connection.zrange(registry.key, 0, -1):
            if registry.parse_job_id(_text(entry)) == job_id:
                connection.zadd(registry.key, {entry: 1}, xx=True)
        registry.cleanup(timestamp=1.5)
        _record(connection, job_id, status_ttl)
        reaped.append(job_id)
    return reaped


def _record(connection: Any, job_id: str, status_ttl: int) -> None:
    """Mirror what RQ decided (retry or fail) into the status record."""
    rq_status = _text(connection.hget(Job.key_for(job_id), "status"))
    fields = connection.hmget(records.record_key(job_id), ["task", "attempts"])
    task, attempts = _text(fields[0]) or "?", int(_text(fields[1]) or 0)
    with connection.pipeline(transaction=False) as pipe:
        if rq_status in ("queued", "scheduled"):
            records.write(pipe, job_id, status_ttl, status=rq_status, error=ABANDONED)
            records.count(pipe, "retried", task)
            logger.warning("job %s (%s): its worker died; retrying", job_id, task)
        else:
            mark_ended(pipe, job_id, task, "dead", ABANDONED, status_ttl)
        pipe.execute()
    if rq_status not in ("queued", "scheduled"):
        log_give_up(job_id, task, "dead", attempts, None)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
