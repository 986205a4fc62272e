"""What our worker classes add to RQ's: app context, maintenance ticks between jobs, and riding
out a Redis outage.

RQ retries a lost connection inside its dequeue loop only; a Redis call just outside it (the
suspension check, the worker-state write that opens each dequeue, the heartbeat after a job)
raises into ``work()``, which logs "unhandled exception, quitting" and exits. Slicing the
dequeue for maintenance ticks makes those calls frequent, so this mixin catches connection
errors there and waits with RQ's own backoff: a worker survives an outage and serves the
outbox relay the moment Redis is back.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask

from .maintenance import Maintenance
from .records import REDIS_DOWN

logger = logging.getLogger("flask_resilience.jobs")


class ResilienceWorkerMixin:
    """Shared by the forking and the simple worker."""

    maintenance: Maintenance
    _app: Flask
    sleep = staticmethod(time.sleep)

    def execute_job(self, job: Any, queue: Any) -> Any:
        with self._app.app_context():
            return super().execute_job(job, queue)  # type: ignore[misc]

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> Any:
        """RQ's dequeue, in slices of the sweep interval with a maintenance tick between."""
        parent: Any = super()
        self.maintenance.tick()
        if timeout is None:
            return parent.dequeue_job_and_maintain_ttl(None, max_idle_time)
        limit = math.inf if max_idle_time is None else time.monotonic() + max_idle_time
        wait = 1.0
        while True:
            left = limit - time.monotonic()
            if left <= 0:
                return None
            step = max(1, math.ceil(min(self.maintenance.runtime.settings.sweep_interval, left)))
            try:
                result = parent.dequeue_job_and_maintain_ttl(step, step)
            except REDIS_DOWN as exc:
                logger.error("Redis unreachable (%s); the worker retries in %.0f s", exc, wait)
                self.sleep(wait)
                wait = min(wait * 2, getattr(self, "max_connection_wait_time", 60))
                continue
            wait = 1.0
            if result is not None or getattr(self, "_stop_requested", False):
                return result
            self.maintenance.tick()

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check; an unreachable Redis is left to the dequeue that follows, which waits."""
        try:
            super().check_for_suspension(burst)  # type: ignore[misc]
        except REDIS_DOWN:
            return

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat; a direct one (no pipeline) skipped while Redis is unreachable."""
        try:
            super().heartbeat(timeout, pipeline)  # type: ignore[misc]
        except REDIS_DOWN:
            if pipeline is not None:
                raise

    def maintain_heartbeats(self, *args: Any, **kwargs: Any) -> Any:
        result = super().maintain_heartbeats(*args, **kwargs)  # type: ignore[misc]
        self.maintenance.tick()
        return result

    def teardown(self) -> None:
        if not getattr(self, "is_horse", False):
            self.maintenance.close()
        super().teardown()  # type: ignore[misc]
