"""``res.jobs``: declare tasks and periodic jobs at import time; enqueue and control at run time.

One ``Jobs`` object belongs to one ``Resilience`` object and so may serve several apps; every
run-time call resolves the current app (or the only app, in scripts and workers).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, overload

from flask import Flask, current_app, has_app_context

from ..state import EXTENSION_KEY
from . import control
from .backoff import BACKOFFS, Backoff
from .config import JobSettings
from .periodic import PeriodicEntry, Schedule
from .records import JobRecord
from .spec import TaskSpec
from .task import JobHandle, Task, make_retry_on

SLOT = "jobs"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_SETTINGS = JobSettings(queues=("high", "default", "low"), embedded_worker=False)


class Jobs:
    """The task registry of one ``Resilience`` object.

    >>> from flask_resilience import Resilience
    >>> res = Resilience()
    >>> @res.jobs.task(name="send-notification", queue="high", retries=4, base_delay=1)
    ... def send_notification(user_id: int, text: str) -> None:
    ...     ...
    >>> sorted(res.jobs.tasks())
    ['send-notification']
    """

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._periodic: list[PeriodicEntry] = []
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()

    # -- declaration -------------------------------------------------------------------------

    @overload
    def task(self, func: Callable[..., Any], /) -> Task: ...

    @overload
    def task(
        self, func: None = None, /, **options: Any
    ) -> Callable[[Callable[..., Any]], Task]: ...

    def task(self, func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Declare a task: ``@res.jobs.task`` or ``@res.jobs.task(name=..., queue=..., ...)``.

        Options: ``name`` (default: the function name with dashes), ``queue="default"``,
        ``retries=3`` (attempts = retries + 1), ``backoff="exponential"`` or ``"fixed"``,
        ``base_delay=2.0``, ``max_delay=600.0``, ``jitter=0.25``, ``timeout=60``,
        ``result_ttl=500``, ``failure_ttl=None`` (RQ's one year), ``unique=False``,
        ``retry_on=(Exception,)`` and ``give_up_on=()`` (exception classes).
        """
        if func is not None:
            return self._declare(func, **options)
        return lambda f: self._declare(f, **options)

    def periodic(
        self,
        *,
        cron: str | None = None,
        every: timedelta | None = None,
        misfire_grace: timedelta = timedelta(hours=1),
        **options: Any,
    ) -> Callable[[Callable[..., Any]], Task]:
        """Declare a task that runs on a schedule (cron in UTC, or ``every``), taking no arguments.

        Workers started ``--with-scheduler`` (and the embedded worker) enqueue it once per period.
        """
        schedule = Schedule(cron=cron, every=every, misfire_grace=misfire_grace)

        def declare(func: Callable[..., Any]) -> Task:
            task = self._declare(func, **options)
            self._periodic = [e for e in self._periodic if e.task.name != task.name]
            self._periodic.append(PeriodicEntry(task, schedule))
            return task

        return declare

    def tasks(self) -> dict[str, Task]:
        """Declared tasks by name."""
        return dict(self._tasks)

    def periodic_entries(self) -> list[PeriodicEntry]:
        return list(self._periodic)

    def bind(self, app: Flask) -> None:
        """Called by ``init_app``: ``app`` is one of the apps this registry serves."""
        self._apps.add(app)

    # -- run time ----------------------------------------------------------------------------

    def submit(
        self,
        task: Task,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        at: datetime | None,
        job_id: str | None,
        session: Any,
    ) -> JobHandle:
        runtime = control.runtime_of(self.app())
        return runtime.submit(task.spec, args, kwargs, at=at, job_id=job_id, session=session)

    def submit_many(self, task: Task, calls: list[Any]) -> list[JobHandle]:
        return control.runtime_of(self.app()).submit_many(task.spec, calls)

    def status(self, job_id: str) -> JobRecord | None:
        """A job's status record (one Redis round trip), or None for an unknown id."""
        return control.runtime_of(self.app()).record(job_id)

    def retry(self, job_id: str) -> JobRecord:
        """Requeue a failed or dead job with its full retry budget."""
        return control.retry_job(control.runtime_of(self.app()), job_id)

    def retry_dead(self, task: str | None = None) -> list[str]:
        """Requeue every dead job (of ``task`` only, when given); returns their ids."""
        return control.retry_dead(control.runtime_of(self.app()), task)

    def cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued or scheduled job; ask a running one to stop."""
        return control.cancel_job(control.runtime_of(self.app()), job_id)

    def delete(self, job_id: str) -> None:
        """Forget a job: RQ's hash and registries, the status record, an outbox row."""
        control.delete_job(control.runtime_of(self.app()), job_id)

    def relay(self) -> int:
        """Move outbox rows into RQ now (workers also do it every sweep interval)."""
        return control.runtime_of(self.app()).relay()

    def app(self) -> Flask:
        """The current app, or the only app this registry serves (scripts, ``rq worker``)."""
        if has_app_context() and EXTENSION_KEY in current_app.extensions:
            app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
            return app
        apps = list(self._apps)
        if len(apps) == 1:
            return apps[0]
        raise RuntimeError(
            "no app context: push one (`with app.app_context():`) to enqueue or read jobs"
        )

    @contextmanager
    def execution_context(self, job: Any) -> Iterator[tuple[Any, JobSettings]]:
        """Where a running task writes its status: the app's Redis and settings.

        Under our workers the app context is pushed already; under a bare ``rq worker`` the
        only app is pushed, or, with no app at all, the job's own connection and defaults.
        """
        if has_app_context() and EXTENSION_KEY in current_app.extensions:
            runtime = control.runtime_of(current_app)
            yield runtime.connection, runtime.settings
            return
        apps = list(self._apps)
        if len(apps) == 1:
            with apps[0].app_context():
                runtime = control.runtime_of(apps[0])
                yield runtime.connection, runtime.settings
            return
        yield job.connection, DEFAULT_SETTINGS

    def _declare(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        give_up_on: tuple[type[BaseException], ...] = (),
        backoff: Backoff = "exponential",
        **options: Any,
    ) -> Task:
        if "<locals>" in func.__qualname__:
            raise ValueError(
                f"{func.__qualname__}: declare tasks at module level (RQ imports them)"
            )
        task_name = name or func.__name__.replace("_", "-")
        if not NAME.match(task_name):
            raise ValueError(f"task name {task_name!r}: use letters, digits, '-', '_' and '.'")
        if backoff not in BACKOFFS:
            raise ValueError(f"backoff must be one of {', '.join(BACKOFFS)}")
        spec = TaskSpec(
            name=task_name,
            func=f"{func.__module__}.{func.__qualname__}",
            backoff=backoff,
            **options,
        )
        spec.intervals()  # validates retries and delays now, at import time
        previous = self._tasks.get(task_name)
        if previous is not None and previous.spec.func != spec.func:
            raise ValueError(f"task {task_name!r} is declared twice: {previous.spec.func}")
        task = Task(self, func, spec, make_retry_on(retry_on, give_up_on))
        self._tasks[task_name] = task
        return task
