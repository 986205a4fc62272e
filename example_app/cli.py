"""``flask --app example_app init``: the app's tables and demo data, safe on every release."""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from flask_resilience import get_state

from .db import create_tables, database
from .seed import seed

logger = logging.getLogger("example_app")


def init_app(app: Flask) -> None:
    app.cli.add_command(init_command)


@click.command("init", help="Create the example app's tables and seed the demo data (idempotent).")
@with_appcontext
def init_command() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    added = prepare_database(app)
    click.echo(
        "example_app tables ready; added "
        + ", ".join(f"{count} {name}" for name, count in added.items())
        + "."
    )


def prepare_database(app: Flask) -> dict[str, int]:
    """Create missing tables and seed missing demo rows; returns what was added."""
    create_tables(app)
    if (
        not get_state(app).settings.embedded
        and app.config["EXAMPLE_ADMIN_PASSWORD"] == "admin-demo"
    ):
        logger.warning(
            "The demo admin account uses the published password 'admin-demo'; set "
            "EXAMPLE_ADMIN_PASSWORD before the first `flask init` of a reachable deployment."
        )
    with database(app).sessions() as session:
        return seed(session, admin_password=app.config["EXAMPLE_ADMIN_PASSWORD"])
