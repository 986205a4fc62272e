"""`flask resilience ...` commands."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import pytest
from flask import Flask

from flask_resilience import get_state, schema
from flask_resilience.cli import resilience_group


def test_group_is_registered_through_the_flask_entry_point() -> None:
    """Flask discovers `resilience` through the flask.commands entry point."""
    found = {ep.name: ep.value for ep in entry_points(group="flask.commands")}
    assert found.get("resilience") == "flask_resilience.cli:resilience_group"


def test_db_upgrade_current_check_downgrade(make_app: Callable[..., Flask], db_url: str) -> None:
    """The db commands move the schema and report it, on PostgreSQL."""
    app = make_app({"RESILIENCE_DATABASE_URL": db_url})
    runner = app.test_cli_runner()
    behind = runner.invoke(resilience_group, ["db", "check"])
    assert behind.exit_code == 1
    assert "flask resilience db upgrade" in behind.output

    upgraded = runner.invoke(resilience_group, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    head = schema.head_revision()
    assert f"resilience schema at {head}" in upgraded.output

    current = runner.invoke(resilience_group, ["db", "current"])
    assert f"current: {head}" in current.output and "status: current" in current.output
    check = runner.invoke(resilience_group, ["db", "check"])
    assert check.exit_code == 0, check.output
    assert "no difference" in check.output

    down = runner.invoke(resilience_group, ["db", "downgrade", "base"])
    assert down.exit_code == 0, down.output
    assert schema.current_revision(app) is None
    get_state(app).engine.dispose()


def test_commands_fail_clearly_without_the_extension() -> None:
    """On an app without the extension a command explains what is missing."""
    app = Flask("bare")
    result = app.test_cli_runner().invoke(resilience_group, ["db", "current"])
    assert result.exit_code == 1
    assert "does not use flask-resilience" in result.output


@pytest.mark.parametrize(
    "path", [[], ["db"], ["db", "upgrade"], ["db", "downgrade"], ["db", "current"], ["db", "check"]]
)
def test_every_command_has_help(path: list[str]) -> None:
    """Every command and group prints a description with --help."""
    result = Flask("bare").test_cli_runner().invoke(resilience_group, [*path, "--help"])
    assert result.exit_code == 0
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 15
