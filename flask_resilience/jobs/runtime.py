"""Per-app job plumbing: queues, enqueue with its outbox fallback, and status reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, request
from rq import Queue
from rq.serializers import JSONSerializer

from ..state import ResilienceState
from . import outbox, records, unique
from .config import JobSettings
from .embedded_worker import EmbeddedWorker
from .enqueue import add_job, check_json
from .spec import TaskSpec
from .task import JobHandle

if TYPE_CHECKING:
    from .api import Jobs

REDIS_DOWN = records.REDIS_DOWN


class JobsRuntime:
    """One app's queues, settings and (in embedded mode) in-process worker."""

    def __init__(
        self, app: Flask, state: ResilienceState, settings: JobSettings, api: Jobs | None = None
    ) -> None:
        self.settings = settings
        self.state = state
        self.connection = state.redis
        self.api = api
        self.url_prefix = state.settings.url_prefix
        self._queues: dict[str, Queue] = {}
        self.embedded_worker = (
            EmbeddedWorker(app, self)
            if state.settings.embedded and settings.embedded_worker
            else None
        )

    def close(self) -> None:
        """Stop the embedded worker thread, if one runs."""
        if self.embedded_worker is not None:
            self.embedded_worker.stop()

    def queue(self, name: str = "default") -> Queue:
        """An RQ queue of this app, JSON-serialised; starts the embedded worker when needed.

        Queue objects are kept: RQ caches the Redis server version on them, which would
        otherwise cost an ``INFO`` round trip per enqueue.
        """
        queue = self._queues.get(name)
        if queue is None:
            if name not in self.settings.queues:
                raise KeyError(
                    f"unknown queue {name!r}; configured: {', '.join(self.settings.queues)}"
                )
            queue = self._queues[name] = Queue(
                name, connection=self.connection, serializer=JSONSerializer
            )
        if self.embedded_worker is not None:
            self.embedded_worker.ensure_started()
        return queue

    def queues(self) -> list[Queue]:
        """Every configured queue, highest priority first."""
        return [self.queue(name) for name in self.settings.queues]

    def status_url(self, job_id: str) -> str:
        root = request.script_root if has_request_context() else ""
        return f"{root}{self.url_prefix}/jobs/{job_id}"

    def submit(
        self,
        spec: TaskSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        at: datetime | None = None,
        job_id: str | None = None,
        session: Any = None,
    ) -> JobHandle:
        """Enqueue one job; falls back to the outbox when Redis is unreachable."""
        job_id = job_id or uuid.uuid4().hex
        owner = self._owner()
        queue = self.queue(spec.queue)
        try:
            if spec.unique:
                holder = unique.claim(self.connection, spec, args, kwargs, job_id)
                if holder is not None:
                    return self._existing(spec, holder)
            with self.connection.pipeline() as pipe:
                try:
                    add_job(
                        pipe,
                        queue,
                        spec,
                        job_id,
                        args,
                        kwargs,
                        at=at,
                        owner=owner,
                        status_ttl=self.settings.status_ttl,
                    )
                except TypeError:
                    if spec.unique:
                        unique.drop(self.connection, spec, args, kwargs, job_id)
                    raise
                pipe.execute()
        except REDIS_DOWN:
            if not self.settings.outbox:
                raise
            check_json(spec.name, args, kwargs)
            outbox.store(self.state.engine, session, spec, job_id, args, kwargs, at, owner)
            return self._handle(spec, job_id, "pending")
        return self._handle(spec, job_id, "queued" if at is None else "scheduled")

    def submit_many(self, spec: TaskSpec, calls: list[Any]) -> list[JobHandle]:
        """Enqueue many jobs of one task in a single pipeline (no outbox, no unique claims)."""
        if spec.unique:
            raise ValueError(f"task {spec.name!r} is unique; enqueue its jobs one at a time")
        owner = self._owner()
        queue = self.queue(spec.queue)
        enqueued_at = records.utc_now()
        one_script = not self.state.settings.embedded  # fakeredis has no Lua here
        ttl = self.settings.status_ttl
        # One round trip, no MULTI: a batch need not be atomic as a whole, and skipping the
        # transaction saves parsing a QUEUED reply per command. The status records come first,
        # in one script call, so no worker can start a job before its record exists (and have
        # its "started" overwritten by a late "queued").
        ids = [uuid.uuid4().hex for _ in calls]
        with self.connection.pipeline(transaction=False) as pipe:
            if one_script:
                records.write_many(
                    pipe,
                    ids,
                    ttl,
                    task=spec.name,
                    queue=queue.name,
                    status="queued",
                    max_attempts=spec.max_attempts,
                    enqueued_at=enqueued_at,
                    owner=owner,
                )
            pipe.sadd(queue.redis_queues_keys, queue.key)
            for job_id, call in zip(ids, calls, strict=True):
                args, kwargs = ((), call) if isinstance(call, dict) else (tuple(call), {})
                add_job(
                    pipe,
                    queue,
                    spec,
                    job_id,
                    args,
                    kwargs,
                    owner=owner,
                    status_ttl=ttl,
                    enqueued_at=enqueued_at,
                    batch=True,
                    record=not one_script,
                )
            pipe.execute()
        return [self._handle(spec, job_id, "queued") for job_id in ids]

    def record(self, job_id: str) -> records.JobRecord | None:
        """The job's status record (one ``HMGET``), or its outbox row while Redis is down."""
        try:
            found = records.read_record(self.connection, job_id)
        except REDIS_DOWN:
            found = outbox.lookup(self.state.engine, job_id)
            if found is None:
                raise
            return found
        if found is None and self.settings.outbox:
            return outbox.lookup(self.state.engine, job_id)
        return found

    def relay(self) -> int:
        """Move outbox rows into RQ, exactly once; returns how many were moved."""
        return outbox.relay(self, batch=self.settings.relay_batch)

    def _owner(self) -> str | None:
        if not has_request_context():
            return None
        owner = self.state.current_user_id()
        return None if owner is None else str(owner)

    def _handle(self, spec: TaskSpec, job_id: str, status: str) -> JobHandle:
        return JobHandle(job_id, self.status_url(job_id), spec.name, spec.queue, status)

    def _existing(self, spec: TaskSpec, job_id: str) -> JobHandle:
        found = records.read_record(self.connection, job_id)
        return self._handle(spec, job_id, found.status if found else "queued")
