"""``flask resilience worker`` and ``flask resilience jobs`` (relay, retry, retry-dead, list)."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from ..state import EXTENSION_KEY, get_state
from . import control
from .worker import build_worker_when_reachable

jobs_group = AppGroup("jobs", help="Inspect and repair background jobs.")


def _app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if EXTENSION_KEY not in app.extensions:
        raise click.ClickException(f"the app {app.name!r} does not use flask-resilience")
    return app


@click.command("worker")
@click.option("--queues", help="Comma-separated queue names, highest priority first.")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also run RQ's scheduler (enqueue_in/at, retry delays) and the periodic jobs.",
)
@click.option("--simple", is_flag=True, help="Run jobs in this process (faster, no isolation).")
@click.option("--name", help="Worker name (default: RQ's host.pid).")
@click.option("--logging-level", default="INFO", show_default=True)
@with_appcontext
def worker_command(
    queues: str | None,
    burst: bool,
    with_scheduler: bool,
    simple: bool,
    name: str | None,
    logging_level: str,
) -> None:
    """Run an RQ worker inside the app; SIGTERM finishes the current job, then exits."""
    app = _app()
    if get_state(app).settings.embedded:
        raise click.ClickException(
            "embedded mode (no RESILIENCE_REDIS_URL) runs jobs inside the web process; "
            "set RESILIENCE_REDIS_URL to run separate workers"
        )
    runtime = control.runtime_of(app)
    names = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    for queue in names or []:
        if queue not in runtime.settings.queues:
            raise click.BadParameter(f"unknown queue {queue!r}", param_hint="--queues")
    worker = build_worker_when_reachable(
        app, runtime, queues=names, simple=simple, with_scheduler=with_scheduler, name=name
    )
    worker.work(burst=burst, with_scheduler=with_scheduler, logging_level=logging_level)


@jobs_group.command("relay")
def relay_command() -> None:
    """Move jobs written to the outbox while Redis was down into RQ (exactly once)."""
    moved = control.runtime_of(_app()).relay()
    click.echo(f"relayed {moved} job(s)")


@jobs_group.command("retry")
@click.argument("job_id")
def retry_command(job_id: str) -> None:
    """Requeue one failed or dead job with a fresh retry budget."""
    try:
        record = control.retry_job(control.runtime_of(_app()), job_id)
    except (control.JobNotFound, control.JobConflict) as exc:
        raise click.ClickException(str(exc) or f"there is no job {job_id}") from exc
    click.echo(f"{record.id} {record.status}")


@jobs_group.command("retry-dead")
@click.option("--task", help="Only the dead jobs of this task.")
def retry_dead_command(task: str | None) -> None:
    """Requeue every dead job (retries exhausted)."""
    ids = control.retry_dead(control.runtime_of(_app()), task)
    click.echo(f"requeued {len(ids)} dead job(s)")


@jobs_group.command("list")
@click.option("--status", default="failed", show_default=True)
@click.option("--queue")
@click.option("--limit", default=50, show_default=True)
def list_command(status: str, queue: str | None, limit: int) -> None:
    """Print jobs in STATUS as JSON lines."""
    try:
        page = control.list_jobs(control.runtime_of(_app()), status, queue, 1, limit)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--status") from exc
    for job in page["jobs"]:
        click.echo(json.dumps(job))
