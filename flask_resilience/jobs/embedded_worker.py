"""The in-process RQ worker of embedded mode: jobs run on a daemon thread of the web process.

Embedded mode has no Redis server and so no separate worker process can see the queues (they
live in this process's fakeredis). A ``SimpleWorker`` on a thread serves them instead, with the
same tasks, retries, status records and periodic jobs as production. Two RQ defaults assume the
main thread and are replaced: signal handlers are not installed, and job timeouts use a timer
instead of ``SIGALRM``. There is no RQ scheduler process, so the thread's maintenance tick moves
due scheduled jobs (``enqueue_in``, retry delays) to their queues itself.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from flask import Flask
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty

from .maintenance import Maintenance
from .worker_mixin import ResilienceWorkerMixin

if TYPE_CHECKING:
    from .runtime import JobsRuntime


def wake_up() -> None:
    """A job that does nothing; it lets a waiting worker notice that it was asked to stop."""


class ThreadWorker(ResilienceWorkerMixin, SimpleWorker):
    """An RQ worker that can run off the main thread and runs jobs in the app's context."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Signals can only be handled by the main thread; the web server owns them."""


class EmbeddedWorker:
    """Starts the worker thread once, on the first enqueue, and stops it on request."""

    def __init__(self, app: Flask, runtime: JobsRuntime) -> None:
        self._app = app
        self._runtime = runtime
        self._connection = runtime.connection
        self._queue_names = runtime.settings.queues
        self._lock = threading.Lock()
        self._worker: ThreadWorker | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def ensure_started(self) -> None:
        """Start the thread if it is not running; cheap when it is."""
        if self.running:
            return
        with self._lock:
            if self.running:
                return
            queues = [
                Queue(name, connection=self._connection, serializer=JSONSerializer)
                for name in self._queue_names
            ]
            worker = ThreadWorker(queues, connection=self._connection, serializer=JSONSerializer)
            worker._app = self._app
            worker.maintenance = Maintenance(
                self._app, self._runtime, run_scheduler=True, embedded=True
            )
            self._worker = worker
            self._thread = threading.Thread(
                target=worker.work,
                kwargs={"with_scheduler": False, "logging_level": "WARNING"},
                name=f"resilience-embedded-worker-{self._app.name}",
                daemon=True,
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish its current job and exit, then wait for the thread."""
        worker, thread = self._worker, self._thread
        if worker is None or thread is None:
            return
        worker._stop_requested = True
        # RQ checks the stop flag only between jobs, so hand it one that does nothing.
        queue: Any = Queue(
            self._queue_names[0], connection=self._connection, serializer=JSONSerializer
        )
        queue.enqueue(wake_up)
        thread.join(timeout)
        self._worker = self._thread = None
