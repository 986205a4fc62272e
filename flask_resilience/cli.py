"""``flask resilience ...``: operator commands, found through the ``flask.commands`` entry point.

Each capability adds its own click group here; this module only assembles them.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import schema
from .archive.cli import archive_group, partitions_group
from .caching.cli import cache_group
from .jobs.cli import jobs_group, worker_command
from .resilient.cli import rules_group, stress_command
from .state import EXTENSION_KEY

resilience_group = AppGroup(
    "resilience", help="Operate flask-resilience: migrations, jobs, partitions, stress tests."
)
db_group = AppGroup("db", help="Manage the extension's own tables (Alembic, separate history).")
resilience_group.add_command(db_group)
resilience_group.add_command(rules_group)
resilience_group.add_command(stress_command)
resilience_group.add_command(cache_group)
resilience_group.add_command(worker_command)
resilience_group.add_command(jobs_group)
resilience_group.add_command(partitions_group)
resilience_group.add_command(archive_group)


def _app() -> Flask:
    """The current app, or a clear error when it does not use the extension."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if EXTENSION_KEY not in app.extensions:
        raise click.ClickException(
            f"the app {app.name!r} does not use flask-resilience: "
            "call Resilience(app) or resilience.init_app(app) in its factory."
        )
    return app


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the extension's migrations up to REVISION (default: head)."""
    app = _app()
    schema.upgrade(app, revision)
    click.echo(f"resilience schema at {schema.current_revision(app)}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Revert the extension's migrations to REVISION (default: one step; 'base' drops all)."""
    app = _app()
    schema.downgrade(app, revision)
    click.echo(f"resilience schema at {schema.current_revision(app) or 'base'}")


@db_group.command("current")
def db_current() -> None:
    """Show the revision the database is at and the newest one shipped."""
    app = _app()
    current = schema.current_revision(app)
    head = schema.head_revision()
    state = "current" if current == head else "behind"
    click.echo(f"current: {current or 'base'}\nhead: {head}\nstatus: {state}")


@db_group.command("check")
def db_check() -> None:
    """Exit non-zero unless the database is at head and matches the models exactly."""
    app = _app()
    current, head = schema.current_revision(app), schema.head_revision()
    if current != head:
        raise click.ClickException(
            f"schema at {current or 'base'}, head is {head}: run `flask resilience db upgrade`"
        )
    diffs = schema.differences(app)
    if diffs:
        lines = "\n".join(f"  {diff}" for diff in diffs)
        raise click.ClickException(f"schema at head but differs from the models:\n{lines}")
    click.echo(f"schema current at {head}; no difference from the models")
