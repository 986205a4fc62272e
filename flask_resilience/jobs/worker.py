"""``flask resilience worker``: RQ's own worker classes, run inside the app.

The subclasses add four things and change nothing else about RQ:

- jobs run inside the app context (``execute_job``);
- between jobs, and every ``job_monitoring_interval`` while a forked job runs, the worker ticks
  its :class:`~.maintenance.Maintenance` (abandoned-job sweep, outbox relay, periodic jobs);
  RQ blocks in ``BLPOP`` for minutes, so the wait is cut into sweep-interval slices;
- a forked work horse dies with its parent (``PR_SET_PDEATHSIG`` on Linux), so a SIGKILLed
  worker never leaves a job running that the sweep then retries elsewhere;
- the horse drops the engine's inherited database connections (SQLAlchemy's fork advice).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

from ..state import get_state
from . import records
from .maintenance import Maintenance
from .reaper import mirror_rq_outcome
from .records import REDIS_DOWN
from .runtime import JobsRuntime
from .worker_mixin import ResilienceWorkerMixin

logger = logging.getLogger("flask_resilience.jobs")
PR_SET_PDEATHSIG = 1
MONITORING_INTERVAL = 10
STARTUP_RETRY_FIRST_SECONDS, STARTUP_RETRY_MAX_SECONDS = 0.5, 10.0
HORSE_KILLED = "WorkHorseKilled: the process running this job died (a signal, the OOM killer)"


class ResilienceWorker(ResilienceWorkerMixin, Worker):
    """RQ's forking ``Worker``: each job in a fresh child process (isolation, no leaks)."""

    parent_pid = 0

    def monitor_work_horse(self, job: Any, queue: Any, *args: Any, **kwargs: Any) -> Any:
        """RQ's monitoring, then: a horse that died on its own (OOM killer, segfault, a signal)
        never let our wrapper record the end, so the record is brought in line with what RQ
        decided (requeued or scheduled for a retry, else failed: ``dead``)."""
        result = super().monitor_work_horse(job, queue, *args, **kwargs)
        connection = self.connection
        try:
            if records.text(connection.hget(records.record_key(job.id), "status")) == "started":
                runtime = self.maintenance.runtime
                mirror_rq_outcome(connection, job.id, runtime.settings.status_ttl, HORSE_KILLED)
        except REDIS_DOWN as exc:  # the worker must outlive an outage; the sweep still looks
            logger.warning("could not check the record of job %s after its run: %s", job.id, exc)
        return result

    def main_work_horse(self, *args: Any, **kwargs: Any) -> Any:
        _die_with_parent(self.parent_pid)
        get_state(self._app).engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)


class ResilienceSimpleWorker(ResilienceWorkerMixin, SimpleWorker):
    """RQ's ``SimpleWorker``: jobs in the worker process, ~4x the throughput of short jobs."""


def build_worker(
    app: Flask,
    runtime: JobsRuntime,
    *,
    queues: list[str] | None = None,
    simple: bool = False,
    with_scheduler: bool = False,
    name: str | None = None,
) -> ResilienceWorker | ResilienceSimpleWorker:
    """A worker of ``app`` serving ``queues`` (default: all, highest priority first)."""
    names = queues or list(runtime.settings.queues)
    rq_queues = [runtime.queue(queue) for queue in names]
    cls = ResilienceSimpleWorker if simple else ResilienceWorker
    worker = cls(
        rq_queues,
        connection=runtime.connection,
        serializer=JSONSerializer,
        name=name,
        job_monitoring_interval=MONITORING_INTERVAL,
        queue_class=Queue,
    )
    worker._app = app
    if isinstance(worker, ResilienceWorker):
        worker.parent_pid = os.getpid()
    worker.maintenance = Maintenance(app, runtime, run_scheduler=with_scheduler)
    return worker


def build_worker_when_reachable(
    app: Flask,
    runtime: JobsRuntime,
    *,
    sleep: Callable[[float], None] = time.sleep,
    **options: Any,
) -> ResilienceWorker | ResilienceSimpleWorker:
    """:func:`build_worker`, waiting for Redis when it does not answer yet.

    A worker started during an outage (a deploy, a host reboot where Redis comes up last)
    would otherwise die at once in RQ's constructor and leave the outbox to pile up until a
    supervisor restarts it; instead it says so once and retries with a capped backoff.
    """
    delay = STARTUP_RETRY_FIRST_SECONDS
    warned = False
    while True:
        try:
            return build_worker(app, runtime, **options)
        except REDIS_DOWN as exc:
            if not warned:
                logger.warning("Redis does not answer (%s); the worker starts when it does", exc)
                warned = True
            sleep(delay)
            delay = min(delay * 2, STARTUP_RETRY_MAX_SECONDS)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; elsewhere do nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - unusual libc
        logger.warning("could not tie the work horse's life to its worker (prctl failed)")
        return
    if os.getppid() != parent:  # pragma: no cover - the parent died before prctl
        os._exit(1)
