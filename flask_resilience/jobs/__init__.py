"""Background jobs on RQ: declared tasks, retries with backoff, status API, dead letters,
periodic jobs and durable (outbox) enqueue. See ``docs/jobs.md``.

>>> from flask_resilience import Resilience
>>> from flask_resilience.jobs import current_job_progress
>>> res = Resilience()
>>> @res.jobs.task(name="parse-quiz-file", queue="high", retries=2)
... def parse_quiz_file(upload_id: int) -> dict:
...     current_job_progress(50, "parsing")
...     return {"questions": 3}
"""

from __future__ import annotations

from flask import Flask
from rq import Queue

from ..state import ResilienceState, get_state
from .api import Jobs
from .config import JobSettings
from .control import JobConflict, JobNotFound
from .execution import PermanentJobError, current_job_id, current_job_progress
from .periodic import Schedule
from .records import JobRecord
from .runtime import JobsRuntime
from .task import JobHandle, Task
from .views import jobs_blueprint

EXTENSION_SLOT = "jobs"


def init_app(app: Flask, state: ResilienceState, api: Jobs | None = None) -> None:
    """Attach the app's job runtime to its state and mount ``<prefix>/jobs/<id>``."""
    settings = JobSettings.from_reader(state.config)
    state.capabilities[EXTENSION_SLOT] = JobsRuntime(app, state, settings, api)
    if api is not None:
        api.bind(app)
    app.register_blueprint(jobs_blueprint(), url_prefix=f"{state.settings.url_prefix}/jobs")


def runtime(app: Flask | None = None) -> JobsRuntime:
    """The job runtime of ``app`` (default: the current app)."""
    found: JobsRuntime = get_state(app).capabilities[EXTENSION_SLOT]
    return found


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    """The raw RQ queue ``name`` of ``app`` (JSON-serialised), for plain ``enqueue`` calls."""
    return runtime(app).queue(name)


__all__ = [
    "JobConflict",
    "JobHandle",
    "JobNotFound",
    "JobRecord",
    "Jobs",
    "JobsRuntime",
    "PermanentJobError",
    "Schedule",
    "Task",
    "current_job_id",
    "current_job_progress",
    "get_queue",
    "init_app",
    "runtime",
]
