"""``@res.jobs.task(...)``: a declared task, its enqueue methods and the handle they return."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .execution import run_task
from .spec import TaskSpec

if TYPE_CHECKING:
    from .api import Jobs


@dataclass(frozen=True, slots=True)
class JobHandle:
    """What ``enqueue`` returns: the job id, where to poll it, and its status at enqueue time.

    ``status`` is ``queued`` or ``scheduled``, ``pending`` when Redis was unreachable and the job
    went to the outbox, or the live job's status when a unique task returned an existing job.
    """

    id: str
    status_url: str
    task: str
    queue: str
    status: str

    def as_json(self) -> dict[str, str]:
        return {"job_id": self.id, "status_url": self.status_url}


class Task:
    """A function declared as a background task; calling it runs it here and now.

    >>> from flask_resilience import Resilience
    >>> res = Resilience()
    >>> @res.jobs.task(name="add", queue="high", retries=2)
    ... def add(a, b):
    ...     return a + b
    >>> add(1, 2), add.spec.max_attempts
    (3, 3)
    """

    def __init__(
        self,
        jobs: Jobs,
        func: Callable[..., Any],
        spec: TaskSpec,
        retry_on: Callable[[BaseException], bool],
    ) -> None:
        self.jobs = jobs
        self.func = func
        self.spec = spec
        self.retry_on = retry_on
        self.name = spec.name
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside an RQ job, run with status, progress and lease; elsewhere, a plain call."""
        from rq import get_current_job

        job = get_current_job()
        if job is None or job.func_name != self.spec.func:
            return self.func(*args, **kwargs)
        with self.jobs.execution_context(job) as (connection, settings):
            return run_task(
                self.spec,
                self.func,
                args,
                kwargs,
                connection=connection,
                status_ttl=settings.status_ttl,
                lease_seconds=settings.lease_seconds,
                retry_on=self.retry_on,
            )

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.spec.queue} attempts={self.spec.max_attempts}>"

    def enqueue(self, *args: Any, **kwargs: Any) -> JobHandle:
        """Queue a run with these (JSON) arguments; returns at once with the job's handle."""
        return self.enqueue_call(args, kwargs)

    delay = enqueue

    def enqueue_in(self, delta: timedelta, *args: Any, **kwargs: Any) -> JobHandle:
        """Run after ``delta`` (needs a worker started ``--with-scheduler``)."""
        return self.enqueue_call(args, kwargs, at=datetime.now(UTC) + delta)

    def enqueue_at(self, when: datetime, *args: Any, **kwargs: Any) -> JobHandle:
        """Run at ``when`` (aware datetimes; naive ones are taken as UTC)."""
        return self.enqueue_call(args, kwargs, at=when)

    def enqueue_call(
        self,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
        job_id: str | None = None,
        session: Any = None,
    ) -> JobHandle:
        """The explicit form: ``session=`` writes to the outbox in the caller's transaction
        when Redis is unreachable; ``job_id=`` sets the id (idempotent producers)."""
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return self.jobs.submit(self, tuple(args), kwargs or {}, at, job_id, session)

    def enqueue_many(self, calls: Iterable[Sequence[Any] | dict[str, Any]]) -> list[JobHandle]:
        """Queue many runs in one pipelined round trip; each item is an args list or a kwargs
        dict. Faster than a loop of ``enqueue`` (RQ's ``enqueue_many`` path)."""
        return self.jobs.submit_many(self, list(calls))


def make_retry_on(
    retry_on: tuple[type[BaseException], ...], give_up_on: tuple[type[BaseException], ...]
) -> Callable[[BaseException], bool]:
    """Errors in ``give_up_on`` fail the job at once; others retry when in ``retry_on``."""

    def should_retry(exc: BaseException) -> bool:
        return isinstance(exc, retry_on) and not isinstance(exc, give_up_on)

    return should_retry
