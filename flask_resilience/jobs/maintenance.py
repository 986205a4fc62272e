"""The chores a worker does between jobs: reap abandoned jobs, relay the outbox, run periodic jobs.

Each step is cheap when there is nothing to do (a ``ZRANGE``, an indexed ``SELECT``, a lock
renewal) and runs at most every ``RESILIENCE_JOBS_SWEEP_INTERVAL`` seconds per worker. A failing
step (Redis or the database down) is logged and retried on the next tick, never fatal.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from .._foundation.clock import SYSTEM_CLOCK, Clock
from .enqueue import add_job
from .periodic import PeriodicEntry, PeriodicScheduler
from .reaper import reap

if TYPE_CHECKING:
    from .runtime import JobsRuntime

logger = logging.getLogger("flask_resilience.jobs")


class Maintenance:
    """Ticks driven by a worker's loop; ``run_scheduler`` makes it run periodic jobs too."""

    def __init__(
        self,
        app: Flask,
        runtime: JobsRuntime,
        *,
        run_scheduler: bool,
        embedded: bool = False,
        clock: Clock = SYSTEM_CLOCK,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.embedded = embedded
        self.clock = clock
        self._next = 0.0
        self._failing: set[str] = set()
        self.periodic = (
            PeriodicScheduler(
                runtime.connection, self._periodic_entries, self._enqueue_periodic, now=now
            )
            if run_scheduler
            else None
        )

    def tick(self, *, force: bool = False) -> None:
        """Run the due chores; returns at once when the last run was under an interval ago."""
        now = self.clock.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self.runtime.settings.sweep_interval
        with self.app.app_context():
            if self.embedded:
                self._step("scheduled", self.move_scheduled)
            else:
                self._step("reaper", self.reap)
                if self.runtime.settings.outbox:
                    self._step("relay", self.runtime.relay)
            if self.periodic is not None:
                self._step("periodic", self.periodic.tick)

    def reap(self) -> list[str]:
        settings = self.runtime.settings
        reaped: list[str] = []
        for name in settings.queues:
            reaped += reap(
                self.runtime.connection,
                name,
                lease_seconds=settings.lease_seconds,
                status_ttl=settings.status_ttl,
            )
        return reaped

    def move_scheduled(self) -> int:
        """Embedded mode has no RQ scheduler process: move due scheduled jobs to their queues."""
        moved = 0
        timestamp = int(datetime.now(UTC).timestamp())
        for queue in self.runtime.queues():
            registry: Any = ScheduledJobRegistry(queue=queue, serializer=JSONSerializer)  # type: ignore[no-untyped-call]
            for job_id in registry.get_jobs_to_schedule(timestamp):
                job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
                registry.remove(job)
                queue.enqueue_job(job)
                moved += 1
        return moved

    def close(self) -> None:
        if self.periodic is not None:
            with contextlib.suppress(Exception):  # shutting down with Redis gone
                self.periodic.release()

    def _step(self, name: str, step: Callable[[], Any]) -> None:
        try:
            step()
        except Exception as exc:  # Redis or the database down: keep the worker alive
            self._warn(name, exc)
        else:
            self._failing.discard(name)

    def _warn(self, name: str, exc: BaseException) -> None:
        if name not in self._failing:
            logger.warning("jobs %s step failed (retrying every tick): %s", name, exc)
            self._failing.add(name)

    def _periodic_entries(self) -> list[PeriodicEntry]:
        api = self.runtime.api
        return api.periodic_entries() if api is not None else []

    def _enqueue_periodic(self, pipe: Any, entry: PeriodicEntry, job_id: str) -> None:
        spec = entry.task.spec
        add_job(
            pipe,
            self.runtime.queue(spec.queue),
            spec,
            job_id,
            [],
            {},
            status_ttl=self.runtime.settings.status_ttl,
        )
