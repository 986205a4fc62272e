"""Reading partitions from the catalogue: bounds whatever the session's DateStyle and TimeZone,
and hand-made partitions that are not one month, which archival and ensure leave alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask

from flask_resilience import Resilience, get_state
from flask_resilience.archive.catalog import list_partitions
from flask_resilience.cli import resilience_group

from .conftest import JAN

App = tuple[Flask, Resilience]


@pytest.mark.parametrize(
    ("datestyle", "timezone"),
    [("ISO, MDY", "UTC"), ("SQL, DMY", "America/New_York"), ("German", "Asia/Kolkata")],
)
def test_bounds_are_read_in_any_datestyle(pg: App, datestyle: str, timezone: str) -> None:
    """pg_get_expr renders bounds in the session's DateStyle and TimeZone; they still come back
    as the same UTC months (the old Python parser read only ISO text)."""
    app, _ = pg
    with get_state(app).engine.connect() as connection:
        connection.exec_driver_sql(f"SET DateStyle = '{datestyle}'")
        connection.exec_driver_sql(f"SET TimeZone = '{timezone}'")
        found = list_partitions(connection, "resilience_metrics", exact_counts=False)
        assert connection.exec_driver_sql("SHOW TimeZone").scalar_one() == timezone  # restored
        connection.rollback()
    months = [info.month for info in found if info.kind == "month"]
    assert months == [date(2024, month, 1) for month in (1, 2, 3, 4)]
    assert found[0].lower == JAN and found[0].lower.tzinfo == UTC
    assert found[-1].is_default and found[-1].bounds == "DEFAULT"


def _hand_made(app: Flask) -> None:
    """A two-month partition and one open at the bottom, as an operator might make them."""
    with get_state(app).engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE metrics_q4 PARTITION OF resilience_metrics "
            "FOR VALUES FROM ('2023-10-01 00:00:00+00') TO ('2023-12-01 00:00:00+00')"
        )
        connection.exec_driver_sql(
            "CREATE TABLE metrics_old PARTITION OF resilience_metrics "
            "FOR VALUES FROM (MINVALUE) TO ('2023-10-01 00:00:00+00')"
        )


def test_irregular_partitions_are_seen_for_what_they_are(pg: App) -> None:
    """Neither is taken for DEFAULT or for a month; their bounds are kept as far as known."""
    app, res = pg
    _hand_made(app)
    with app.app_context():
        found = {info.name: info for info in res.metrics.partitions()}
    q4, old = found["metrics_q4"], found["metrics_old"]
    assert q4.kind == old.kind == "other" and q4.month is None and not q4.is_default
    assert q4.lower == datetime(2023, 10, 1, tzinfo=UTC)
    assert q4.upper == datetime(2023, 12, 1, tzinfo=UTC)
    assert old.lower is None and old.upper == q4.lower and "MINVALUE" in old.bounds
    assert q4.overlaps(date(2023, 11, 1)) and not q4.overlaps(date(2023, 12, 1))
    assert old.overlaps(date(1999, 1, 1))
    listing = app.test_cli_runner().invoke(resilience_group, ["partitions", "list"]).output
    assert "MINVALUE" in listing and "not one UTC month" in listing


def test_archival_and_ensure_leave_irregular_partitions_alone(pg: App) -> None:
    """Archival notes and skips them (ATTACH needs one month's bounds); ensure creates no month
    they already take in, where it used to fail with an overlap error."""
    app, res = pg
    _hand_made(app)
    rows = [("s", 1.0, i, datetime(2023, 10, 1, tzinfo=UTC) + timedelta(days=i)) for i in range(40)]
    rows += [("s", 2.0, 100, JAN)]
    with app.app_context():
        res.metrics.record_many(rows)
        report = res.metrics.archive(now=datetime(2024, 4, 1, tzinfo=UTC))
        ensured = res.metrics.ensure_partitions(ahead=3, now=datetime(2023, 9, 1, tzinfo=UTC))
        points = res.metrics.query("s")
    assert [m.month.month for m in report.moved] == [1, 2]
    assert [note.split()[0] for note in report.notes] == ["metrics_old", "metrics_q4"]
    assert all("left live" in note and "not one month" in note for note in report.notes)
    assert ensured.created == ["resilience_metrics_y2023m12"]  # Sep-Nov are taken in already
    assert len(points) == 41
