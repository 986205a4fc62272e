"""Background jobs on RQ. This module wires queues per app; embedded mode runs a worker thread."""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq import Queue
from rq.serializers import JSONSerializer

from ..state import ResilienceState, get_state
from .config import JobSettings
from .embedded_worker import EmbeddedWorker

EXTENSION_SLOT = "jobs"


class JobsRuntime:
    """Per-app job plumbing: queue names and, in embedded mode, the in-process worker."""

    def __init__(self, app: Flask, state: ResilienceState, settings: JobSettings) -> None:
        self.settings = settings
        self.connection = state.redis
        self.embedded_worker = (
            EmbeddedWorker(app, state.redis, settings.queues)
            if state.settings.embedded and settings.embedded_worker
            else None
        )

    def close(self) -> None:
        """Stop the embedded worker thread, if one runs."""
        if self.embedded_worker is not None:
            self.embedded_worker.stop()

    def queue(self, name: str = "default") -> Queue:
        """An RQ queue of this app, JSON-serialised; starts the embedded worker when needed."""
        if name not in self.settings.queues:
            raise KeyError(f"unknown queue {name!r}; configured: {', '.join(self.settings.queues)}")
        if self.embedded_worker is not None:
            self.embedded_worker.ensure_started()
        return Queue(name, connection=self.connection, serializer=JSONSerializer)


def init_app(app: Flask, state: ResilienceState) -> None:
    """Attach the app's job runtime to its state."""
    state.capabilities[EXTENSION_SLOT] = JobsRuntime(
        app, state, JobSettings.from_reader(state.config)
    )


def runtime(app: Flask | None = None) -> JobsRuntime:
    """The job runtime of ``app`` (default: the current app)."""
    runtime: Any = get_state(app).capabilities[EXTENSION_SLOT]
    return runtime  # type: ignore[no-any-return]


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    """Shortcut for ``runtime(app).queue(name)``."""
    return runtime(app).queue(name)


__all__ = ["JobsRuntime", "get_queue", "init_app", "runtime"]
