"""The abandoned-job sweep: no lease is not enough, the job's worker must be silent too."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from flask import Flask
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.utils import utcformat
from rq.worker import Worker

from flask_resilience import get_state
from flask_resilience.jobs import records
from flask_resilience.jobs.reaper import HEARTBEAT_STALE_SECONDS, find_abandoned


def test_a_job_of_a_live_worker_is_not_abandoned_even_without_its_lease(jobs_app: Flask) -> None:
    """A started job whose lease is gone (a starved renewer, a failover that lost the key) but
    whose worker sent a heartbeat lately still runs: the sweep leaves it alone. Once the worker
    has been silent for HEARTBEAT_STALE_SECONDS, or its key is gone, the job is abandoned."""
    with jobs_app.app_context():
        connection = get_state().redis
    job_id, worker = uuid.uuid4().hex, f"worker-{uuid.uuid4().hex[:6]}"
    now = time.time()
    started = datetime.fromtimestamp(now - 120, UTC).isoformat()
    registry = StartedJobRegistry("default", connection=connection)
    connection.zadd(registry.key, {f"{job_id}:execution-1": now + 600})
    with connection.pipeline() as pipe:
        records.write(pipe, job_id, 600, task="tracked", status="started", started_at=started)
        pipe.execute()
    connection.hset(Job.key_for(job_id), "worker_name", worker)
    worker_key = Worker.redis_worker_namespace_prefix + worker
    connection.hset(worker_key, "last_heartbeat", utcformat(datetime.fromtimestamp(now - 5, UTC)))

    assert find_abandoned(connection, "default", 30, now) == []
    stale = datetime.fromtimestamp(now - HEARTBEAT_STALE_SECONDS - 1, UTC)
    connection.hset(worker_key, "last_heartbeat", utcformat(stale))
    assert find_abandoned(connection, "default", 30, now) == [job_id]
    connection.delete(worker_key)
    assert find_abandoned(connection, "default", 30, now) == [job_id]
    connection.set(records.lease_key(job_id), 1, ex=30)  # a lease, whatever the worker: running
    assert find_abandoned(connection, "default", 30, now) == []
    connection.delete(registry.key, Job.key_for(job_id), records.record_key(job_id))
    connection.delete(records.lease_key(job_id))
