"""Recording points: batches, month boundaries, the DEFAULT partition and on-demand partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask

from flask_resilience import Resilience
from flask_resilience.archive.partitions import partition_name

from .conftest import JAN

App = tuple[Flask, Resilience]


def _rows_by_partition(app: Flask, res: Resilience) -> dict[str, int]:
    with app.app_context():
        return {info.name: info.rows for info in res.metrics.partitions()}


def test_record_and_query_round_trip(any_app: App) -> None:
    """Points come back in time order with their step, value, labels and UTC timestamp."""
    app, res = any_app
    with app.app_context():
        res.metrics.record("training:1", 0.9, step=1, at=JAN + timedelta(hours=1), labels={"a": 1})
        res.metrics.record("training:1", 0.5, step=2, at=JAN + timedelta(hours=2))
        res.metrics.record("training:2", 7.0, step=1, at=JAN)
        points = res.metrics.query("training:1")
    assert [(p.step, p.value) for p in points] == [(1, 0.9), (2, 0.5)]
    assert points[0].labels == {"a": 1} and points[0].recorded_at == JAN + timedelta(hours=1)
    assert not points[0].archived


def test_record_many_is_batched_and_counted(any_app: App) -> None:
    """record_many takes mappings and tuples and writes every row once."""
    app, res = any_app
    rows: list[object] = [
        {"series": "s", "value": i, "step": i, "at": JAN + timedelta(minutes=i)} for i in range(500)
    ]
    rows += [("s", 1.5, 1000 + i, JAN + timedelta(days=40, minutes=i)) for i in range(500)]
    with app.app_context():
        assert res.metrics.record_many(rows) == 1000  # type: ignore[arg-type]
        points = res.metrics.query("s", order="step", limit=3, descending=True)
        assert len(res.metrics.query("s")) == 1000
    assert [p.step for p in points] == [1499, 1498, 1497]


def test_month_boundary_splits_partitions(pg: App) -> None:
    """The last microsecond of January and midnight of February land in different partitions."""
    app, res = pg
    feb = datetime(2024, 2, 1, tzinfo=UTC)
    with app.app_context():
        res.metrics.record("edge", 1.0, at=feb - timedelta(microseconds=1))
        res.metrics.record("edge", 2.0, at=feb)
        january = res.metrics.query("edge", end=feb)
    counts = _rows_by_partition(app, res)
    assert counts[partition_name("resilience_metrics", JAN.date())] == 1
    assert counts[partition_name("resilience_metrics", feb.date())] == 1
    assert [p.value for p in january] == [1.0]


def test_default_partition_catches_and_ensure_moves_out(pg: App) -> None:
    """A row for a month without a partition lands in DEFAULT, is reported, and ensure moves it."""
    app, res = pg
    stray = datetime(2024, 9, 15, tzinfo=UTC)
    with app.app_context():
        res.metrics.record("late", 3.0, at=stray)
        assert _rows_by_partition(app, res)["resilience_metrics_default"] == 1
        report = res.metrics.ensure_partitions(ahead=0, now=JAN)
        assert res.metrics.query("late")[0].value == 3.0
    assert report.moved_from_default == {"resilience_metrics_y2024m09": 1}
    assert report.default_rows == 0
    counts = _rows_by_partition(app, res)
    assert counts["resilience_metrics_default"] == 0 and counts["resilience_metrics_y2024m09"] == 1


def test_current_month_is_created_on_demand(make_app: object, db_url: str) -> None:
    """Recording into a month with no partition yet creates it rather than relying on DEFAULT."""
    from .conftest import build

    app, res = build(make_app, db_url)  # type: ignore[arg-type]
    with app.app_context():
        res.metrics.record("now", 1.0)
        names = {info.name: info.rows for info in res.metrics.partitions()}
    assert names[partition_name("resilience_metrics", datetime.now(UTC).date())] == 1
    assert names["resilience_metrics_default"] == 0


def test_ensure_is_idempotent(pg: App) -> None:
    """A second ensure creates nothing and moves nothing."""
    app, res = pg
    with app.app_context():
        report = res.metrics.ensure_partitions(ahead=3, now=JAN)
    assert report.created == [] and report.moved_from_default == {}
