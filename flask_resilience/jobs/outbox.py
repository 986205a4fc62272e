"""Durable enqueue: jobs accepted while Redis is down wait in ``resilience_job_outbox``.

``store`` writes a row in the caller's session (so it commits or rolls back with the caller's
own work) or in a transaction of its own. ``relay`` moves rows into RQ *exactly once*:

1. lock a batch of rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so relays run side by side);
2. ``WATCH`` a "relayed" marker per row, skip rows whose marker or status record exists, and in
   one ``MULTI`` set the markers and enqueue the jobs: a job is in RQ if and only if its marker is;
3. delete the rows and commit. A crash between 2 and 3 leaves rows whose markers say "done", so
   the next relay deletes them without enqueueing twice.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis.exceptions import WatchError
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from . import records
from .enqueue import add_job
from .models import OutboxJob
from .spec import TaskSpec

if TYPE_CHECKING:
    from .runtime import JobsRuntime

logger = logging.getLogger("flask_resilience.jobs")
MARKER_PREFIX = "resilience:jobs:relayed:"


def store(
    engine: Engine,
    session: Any,
    spec: TaskSpec,
    job_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    at: datetime | None,
    owner: str | None,
) -> None:
    """Write the job to the outbox: in ``session`` when given (the caller commits), else now."""
    row = OutboxJob(
        id=job_id,
        task=spec.name,
        queue=spec.queue,
        payload=json.dumps({"spec": spec.as_json(), "args": list(args), "kwargs": kwargs}),
        owner=owner,
        enqueue_at=at,
    )
    if session is not None:
        session.add(row)
        return
    with Session(engine) as own, own.begin():
        own.add(row)
    logger.warning("Redis unreachable: job %s (%s) written to the outbox", job_id, spec.name)


def lookup(engine: Engine, job_id: str) -> records.JobRecord | None:
    """A ``pending`` record for a job still in the outbox, or None."""
    try:
        with Session(engine) as session:
            row = session.get(OutboxJob, job_id)
    except SQLAlchemyError:
        return None
    if row is None:
        return None
    return records.JobRecord(
        id=row.id,
        task=row.task,
        queue=row.queue,
        status="pending",
        percent=None,
        message=None,
        result=None,
        error=None,
        attempts=0,
        max_attempts=TaskSpec.from_json(json.loads(row.payload)["spec"]).max_attempts,
        enqueued_at=row.created_at.isoformat() if row.created_at else None,
        started_at=None,
        ended_at=None,
        owner=row.owner,
    )


def relay(runtime: JobsRuntime, *, batch: int = 500) -> int:
    """Move every outbox row into RQ; returns the number of jobs enqueued by this call."""
    engine = runtime.state.engine
    table: Any = OutboxJob.__table__
    moved = 0
    while True:
        with engine.begin() as conn:
            query = select(table).order_by(table.c.created_at).limit(batch)
            rows = conn.execute(query.with_for_update(skip_locked=True)).all()
            if not rows:
                return moved
            moved += _push_once(runtime, list(rows))
            conn.execute(delete(table).where(table.c.id.in_([row.id for row in rows])))
        if len(rows) < batch:
            return moved


def _push_once(runtime: JobsRuntime, rows: list[Any]) -> int:
    """Enqueue the rows not relayed before, atomically with their markers."""
    connection = runtime.connection
    markers = [MARKER_PREFIX + row.id for row in rows]
    with connection.pipeline() as pipe:
        for _ in range(10):
            try:
                pipe.watch(*markers)
                seen = pipe.mget(markers)
                fresh = [row for row, marker in zip(rows, seen, strict=True) if marker is None]
                fresh = _without_records(connection, fresh)
                pipe.multi()
                for row in fresh:
                    _add_row(pipe, runtime, row)
                    pipe.set(MARKER_PREFIX + row.id, 1, ex=runtime.settings.status_ttl)
                pipe.execute()
                return len(fresh)
            except WatchError:
                pipe.reset()
    raise RuntimeError("outbox relay: markers kept changing; another relay is racing")


def _without_records(connection: Any, rows: list[Any]) -> list[Any]:
    """Drop rows whose job reached Redis after all (the enqueue's reply was lost, not it)."""
    with connection.pipeline(transaction=False) as check:
        for row in rows:
            check.exists(records.record_key(row.id))
        found = check.execute()
    return [row for row, exists in zip(rows, found, strict=True) if not exists]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; they were written as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _add_row(pipe: Any, runtime: JobsRuntime, row: Any) -> None:
    payload = json.loads(row.payload)
    spec = TaskSpec.from_json(payload["spec"])
    add_job(
        pipe,
        runtime.queue(spec.queue),
        spec,
        row.id,
        payload["args"],
        payload["kwargs"],
        status_ttl=runtime.settings.status_ttl,
        at=_aware(row.enqueue_at),
        owner=row.owner,
        enqueued_at=created.isoformat() if (created := _aware(row.created_at)) else None,
    )
