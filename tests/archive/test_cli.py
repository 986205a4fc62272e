"""``flask resilience partitions ...`` and ``flask resilience archive ...``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from flask import Flask

from flask_resilience import Resilience, get_state
from flask_resilience.cli import resilience_group

from .conftest import JAN

App = tuple[Flask, Resilience]


def _fill(app: Flask, res: Resilience) -> None:
    with app.app_context():
        res.metrics.record_many([("s", 1.0, i, JAN + timedelta(days=i)) for i in range(20)])


def test_partitions_ensure_and_list(pg: App) -> None:
    """ensure creates the months ahead of today idempotently; list shows both tables' partitions."""
    app, res = pg
    runner = app.test_cli_runner()
    result = runner.invoke(resilience_group, ["partitions", "ensure", "--ahead", "1"])
    assert result.exit_code == 0, result.output
    this_month = datetime.now(UTC).strftime("y%Ym%m")
    assert f"resilience_metrics_{this_month}" in result.output
    again = runner.invoke(resilience_group, ["partitions", "ensure", "--ahead", "1"])
    assert "nothing (all present)" in again.output
    _fill(app, res)
    listing = runner.invoke(resilience_group, ["partitions", "list"])
    assert listing.exit_code == 0 and "resilience_metrics_y2024m01" in listing.output
    rows = json.loads(runner.invoke(resilience_group, ["partitions", "list", "--json"]).output)
    assert {"name": "resilience_metrics_y2024m01", "rows": 20}.items() <= rows[0].items()


def test_partitions_list_warns_about_default_rows(pg: App) -> None:
    """A non-empty DEFAULT partition is called out with the command that fixes it."""
    app, res = pg
    with app.app_context():
        res.metrics.record("stray", 1.0, at=datetime(2023, 6, 1, tzinfo=UTC))
    output = app.test_cli_runner().invoke(resilience_group, ["partitions", "list"]).output
    assert "1 row(s) in DEFAULT" in output


def test_archive_run_dry_run_then_real(pg: App) -> None:
    """--dry-run lists the months that would move; the real run moves them; status counts ages."""
    app, res = pg
    _fill(app, res)
    runner = app.test_cli_runner()
    dry = runner.invoke(resilience_group, ["archive", "run", "--older-than", "1d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would archive" in dry.output and "resilience_metrics_y2024m01: 20 row(s)" in dry.output
    real = runner.invoke(resilience_group, ["archive", "run", "--older-than", "1d"])
    assert "resilience_metrics_archive_y2024m01: 20 row(s)" in real.output
    status = runner.invoke(resilience_group, ["archive", "status", "--json"])
    counts = json.loads(status.output)
    assert counts["archive"]["> 365 days"] + counts["archive"]["90-365 days"] == 20
    assert sum(counts["live"].values()) == 0
    table = runner.invoke(resilience_group, ["archive", "status"]).output
    assert table.splitlines()[0].split() == ["age", "live", "archive"]


def test_archive_run_rejects_a_bad_duration(pg: App) -> None:
    """--older-than must be a duration such as 30d."""
    app, _ = pg
    result = app.test_cli_runner().invoke(
        resilience_group, ["archive", "run", "--older-than", "soon"]
    )
    assert result.exit_code == 2 and "duration" in result.output


def test_archive_run_on_sqlite(make_app: object, sqlite_url: str) -> None:
    """On SQLite the same command copies and deletes whole months; partitions list says none."""
    from .conftest import build

    app, res = build(make_app, sqlite_url)  # type: ignore[arg-type]
    _fill(app, res)
    runner = app.test_cli_runner()
    output = runner.invoke(resilience_group, ["archive", "run", "--older-than", "1d"]).output
    assert "archived 1 month(s)" in output
    assert "no partitions" in runner.invoke(resilience_group, ["partitions", "list"]).output


def test_archive_run_prints_the_partial_report_on_a_database_error(pg: App) -> None:
    """A database error part-way prints the months already archived and the error, exit 1,
    instead of a traceback."""
    app, res = pg
    with app.app_context():
        res.metrics.record_many([("s", 1.0, i, JAN + timedelta(days=i)) for i in range(45)])
    with get_state(app).engine.begin() as connection:  # February's archive name is taken
        connection.exec_driver_sql("CREATE TABLE resilience_metrics_archive_y2024m02 (x int)")
    result = app.test_cli_runner().invoke(
        resilience_group, ["archive", "run", "--older-than", "1d"]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "archived 1 month(s)" in result.output
    assert "resilience_metrics_archive_y2024m01: 31 row(s)" in result.output
    assert "interrupted" in result.output and "UndefinedColumn" in result.output
    assert "Traceback" not in result.output


def test_archive_run_rejects_retention_below_the_archive_age(
    make_app: object, sqlite_url: str
) -> None:
    """--older-than beyond the configured retention is a usage error, not a silent no-drop."""
    from .conftest import build

    app, _ = build(make_app, sqlite_url, RESILIENCE_ARCHIVE_DROP_AFTER_DAYS=60)  # type: ignore[arg-type]
    result = app.test_cli_runner().invoke(
        resilience_group, ["archive", "run", "--older-than", "90d"]
    )
    assert result.exit_code == 2 and "must exceed" in result.output
