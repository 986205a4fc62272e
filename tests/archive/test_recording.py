"""Recording points: batches, month boundaries, the DEFAULT partition and on-demand partitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import text

from flask_resilience import Resilience, get_state
from flask_resilience._foundation.clock import ManualClock
from flask_resilience.archive import partitions as ddl
from flask_resilience.archive.api import ON_DEMAND_RETRY_MAX_SECONDS, ON_DEMAND_RETRY_SECONDS
from flask_resilience.archive.maintenance import maintenance_lock
from flask_resilience.archive.partitions import partition_name

from .conftest import JAN, build

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


@pytest.mark.parametrize("app_name", ["postgresql", "sqlite"])
def test_a_non_utc_time_at_a_month_boundary(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask], app_name: str
) -> None:
    """19:00 at UTC-5 on 31 January is February in UTC: it is stored, queried and archived as
    February; one microsecond earlier is January."""
    eastern = timezone(timedelta(hours=-5))
    if app_name == "sqlite":
        app, res = build(make_app, str(request.getfixturevalue("sqlite_url")))
    else:
        app, res = request.getfixturevalue("pg")
    feb = datetime(2024, 2, 1, tzinfo=UTC)
    with app.app_context():
        res.metrics.record("edge", 2.0, at=datetime(2024, 1, 31, 19, tzinfo=eastern))
        res.metrics.record("edge", 1.0, at=datetime(2024, 1, 31, 18, 59, 59, 999999, eastern))
        january = res.metrics.query("edge", end=feb)
        february = res.metrics.query("edge", start=feb)
        report = res.metrics.archive(timedelta(0), now=feb)  # January only
    assert [p.value for p in january] == [1.0] and [p.value for p in february] == [2.0]
    assert february[0].recorded_at == feb and february[0].recorded_at.tzinfo == UTC
    assert report.rows_moved == 1 and report.moved[0].month == JAN.date()
    if app_name == "postgresql":
        counts = _rows_by_partition(app, res)
        assert counts["resilience_metrics_y2024m02"] == 1
        assert counts["resilience_metrics_archive_y2024m01"] == 1


@pytest.mark.parametrize("bad", ["a\x00b", "\x00"])
def test_series_and_labels_with_nul_are_refused(any_app: App, bad: str) -> None:
    """PostgreSQL text cannot hold NUL: record, record_many and query refuse it up front, alike
    on both databases, with a ValueError saying why."""
    app, res = any_app
    with app.app_context():
        with pytest.raises(ValueError, match="NUL"):
            res.metrics.record(bad, 1.0, at=JAN)
        with pytest.raises(ValueError, match="NUL"):
            res.metrics.record_many([(bad, 1.0, None, JAN)])
        with pytest.raises(ValueError, match="NUL"):
            res.metrics.record("ok", 1.0, at=JAN, labels={"k": bad})
        with pytest.raises(ValueError, match="NUL"):
            res.metrics.query(bad)
        assert res.metrics.query("ok") == []


@pytest.fixture
def fresh(make_app: Callable[..., Flask], db_url: str) -> tuple[Flask, Resilience, ManualClock]:
    """A PostgreSQL app with no month partitions, whose runtime reads a manual clock."""
    app, res = build(make_app, db_url)
    clock = ManualClock()
    get_state(app).capabilities["archive"].clock = clock
    return app, res, clock


@contextmanager
def _default_read_open(app: Flask) -> Iterator[None]:
    """Another session in the middle of a read of DEFAULT: it holds ACCESS SHARE, which a
    partition creation's ACCESS EXCLUSIVE on DEFAULT has to wait for."""
    with get_state(app).engine.connect() as blocker:
        blocker.execute(text("SELECT count(*) FROM resilience_metrics_default"))
        yield
        blocker.rollback()


@contextmanager
def _maintenance_running(app: Flask) -> Iterator[None]:
    with maintenance_lock(get_state(app).engine):
        yield


@pytest.mark.parametrize("blocked", [_default_read_open, _maintenance_running])
def test_failed_on_demand_creation_is_retried_after_a_backoff(
    fresh: tuple[Flask, Resilience, ManualClock],
    blocked: Callable[[Flask], AbstractContextManager[None]],
) -> None:
    """While the partition cannot be made (lock busy, or maintenance running) rows go to
    DEFAULT at once; the month is not given up: after the backoff the next row creates it and
    the rows waiting in DEFAULT move in."""
    app, res, clock = fresh
    now = datetime.now(UTC)
    this_month = partition_name("resilience_metrics", now.date())
    with app.app_context():
        with blocked(app):
            res.metrics.record("now", 1.0, at=now)
        assert _rows_by_partition(app, res) == {"resilience_metrics_default": 1}
        res.metrics.record("now", 2.0, at=now)  # within the backoff: no new attempt
        assert _rows_by_partition(app, res) == {"resilience_metrics_default": 2}
        clock.advance(ON_DEMAND_RETRY_SECONDS)
        res.metrics.record("now", 3.0, at=now)
    assert _rows_by_partition(app, res) == {"resilience_metrics_default": 0, this_month: 3}


def test_backoff_grows_and_is_capped(fresh: tuple[Flask, Resilience, ManualClock]) -> None:
    """Each failure doubles the pause, up to ON_DEMAND_RETRY_MAX_SECONDS."""
    app, res, clock = fresh
    runtime = get_state(app).capabilities["archive"]
    now = datetime.now(UTC)
    pauses = []
    with app.app_context(), _maintenance_running(app):
        for _ in range(7):
            res.metrics.record("now", 1.0, at=now)
            pauses.append(runtime.retry_at[ddl.month_start(now)] - clock.monotonic())
            clock.advance(pauses[-1])
    assert pauses == [30.0, 60.0, 120.0, 240.0, 480.0, 600.0, 600.0]
    assert ON_DEMAND_RETRY_MAX_SECONDS == 600.0


def test_an_archived_month_gets_no_new_live_partition(
    fresh: tuple[Flask, Resilience, ManualClock],
) -> None:
    """Last month, once archived, is not re-created live by a late row (another process would
    have to merge it by copy at the next archival): the row waits in DEFAULT and ensure moves it
    into the archived month."""
    app, res, _ = fresh
    now = datetime.now(UTC)
    last = ddl.add_months(ddl.month_start(now), -1)
    late = datetime(last.year, last.month, 2, tzinfo=UTC)
    with app.app_context():
        res.metrics.record("late", 1.0, at=late)  # creates last month's partition on demand
        report = res.metrics.archive(timedelta(0))
        assert [m.month for m in report.moved] == [last]
        get_state(app).capabilities["archive"].known_months.clear()  # as in a fresh process
        res.metrics.record("late", 2.0, at=late)
        names = _rows_by_partition(app, res)
        assert partition_name("resilience_metrics", last) not in names
        assert names["resilience_metrics_default"] == 1
        ensured = res.metrics.ensure_partitions(ahead=0)
        points = res.metrics.query("late")
        again = res.metrics.archive(timedelta(0))
    assert ensured.moved_from_default == {partition_name("resilience_metrics_archive", last): 1}
    assert [(p.value, p.archived) for p in points] == [(1.0, True), (2.0, True)]
    assert again.moved == () and again.notes == ()
