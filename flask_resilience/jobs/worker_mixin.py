"""What our worker classes add to RQ's: app context, and maintenance ticks between jobs."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask

from .maintenance import Maintenance


class ResilienceWorkerMixin:
    """Shared by the forking and the simple worker."""

    maintenance: Maintenance
    _app: Flask

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
        while True:
            left = limit - time.monotonic()
            if left <= 0:
                return None
            step = max(1, math.ceil(min(self.maintenance.runtime.settings.sweep_interval, left)))
            result = parent.dequeue_job_and_maintain_ttl(step, step)
            if result is not None or getattr(self, "_stop_requested", False):
                return result
            self.maintenance.tick()

    def maintain_heartbeats(self, *args: Any, **kwargs: Any) -> Any:
        result = super().maintain_heartbeats(*args, **kwargs)  # type: ignore[misc]
        self.maintenance.tick()
        return result

    def teardown(self) -> None:
        if not getattr(self, "is_horse", False):
            self.maintenance.close()
        super().teardown()  # type: ignore[misc]
