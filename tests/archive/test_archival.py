"""Archiving old months: nothing lost or duplicated, whole months only, concurrency, retention."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from flask_resilience import Resilience, get_state
from flask_resilience.archive import ArchiveInterrupted, ArchiveReport, MaintenanceBusy
from flask_resilience.archive.archival import archive_months
from flask_resilience.archive.maintenance import create_month, maintenance_lock

from .conftest import JAN

App = tuple[Flask, Resilience]
NOW = datetime(2024, 4, 15, tzinfo=UTC)
"""With the default 30 days the cutoff is 2024-03-16: January and February are entirely older."""


def _fill(app: Flask, res: Resilience, per_month: int = 200) -> None:
    rows = []
    for month in range(4):
        start = JAN.replace(month=month + 1)
        rows += [
            ("s", float(i), month * per_month + i, start + timedelta(minutes=i))
            for i in range(per_month)
        ]
    rows += [("other", 1.0, None, JAN + timedelta(days=3))]
    with app.app_context():
        res.metrics.record_many(rows)


def _counts(app: Flask) -> tuple[int, int, int]:
    """(live rows, archive rows, distinct ids across both)."""
    with get_state(app).engine.connect() as connection:
        live = connection.execute(text("SELECT count(*) FROM resilience_metrics")).scalar_one()
        archive = connection.execute(
            text("SELECT count(*) FROM resilience_metrics_archive")
        ).scalar_one()
        distinct = connection.execute(
            text(
                "SELECT count(DISTINCT id) FROM (SELECT id FROM resilience_metrics "
                "UNION ALL SELECT id FROM resilience_metrics_archive) AS everything"
            )
        ).scalar_one()
    return int(live), int(archive), int(distinct)


def test_archive_moves_whole_months_and_keeps_every_row(any_app: App) -> None:
    """Jan and Feb move; March straddles the cutoff and stays; row totals and ids are unchanged."""
    app, res = any_app
    _fill(app, res)
    before = _counts(app)
    with app.app_context():
        report = res.metrics.archive(now=NOW)
        points = res.metrics.query("s")
    live, archive, distinct = _counts(app)
    assert [m.month.month for m in report.moved] == [1, 2]
    assert report.rows_moved == 401 == archive
    assert live + archive == before[0] + before[1] == distinct == 801
    assert len(points) == 800 and [p.step for p in points] == list(range(800))
    assert [p.archived for p in points].count(True) == 400


def test_dry_run_changes_nothing(any_app: App) -> None:
    """--dry-run reports the months and rows that would move and moves none."""
    app, res = any_app
    _fill(app, res)
    with app.app_context():
        report = res.metrics.archive(timedelta(days=30), dry_run=True, now=NOW)
    assert report.dry_run and report.rows_moved == 401
    assert _counts(app)[:2] == (801, 0)


def test_archive_twice_is_a_no_op(pg: App) -> None:
    """A second run finds nothing older than the cutoff still live."""
    app, res = pg
    _fill(app, res, per_month=10)
    with app.app_context():
        res.metrics.archive(now=NOW)
        assert res.metrics.archive(now=NOW).moved == ()


def test_concurrent_writer_loses_nothing(pg: App) -> None:
    """A thread inserting current rows throughout the archival has every insert kept."""
    app, res = pg
    _fill(app, res, per_month=2000)
    stop, written, errors = threading.Event(), [0], []

    def writer() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    res.metrics.record("live", 1.0, at=datetime(2024, 4, 1, 12, tzinfo=UTC))
                    written[0] += 1
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with app.app_context():
            report = res.metrics.archive(now=NOW)
    finally:
        stop.set()
        thread.join()
    assert not errors and written[0] > 0
    assert report.rows_moved == 4001
    with app.app_context():
        assert len(res.metrics.query("live", include_archived=False)) == written[0]
    assert _counts(app)[2] == 8001 + written[0]


def test_retention_drops_old_archive_months(pg: App) -> None:
    """Archived months past the drop cutoff are dropped; dry-run only reports them."""
    app, res = pg
    _fill(app, res, per_month=10)
    with app.app_context():
        res.metrics.archive(now=NOW)
        later = datetime(2024, 4, 20, tzinfo=UTC)
        preview = res.metrics.archive(now=later, drop_older_than=timedelta(days=70), dry_run=True)
        assert [m.partition for m in preview.dropped] == ["resilience_metrics_archive_y2024m01"]
        assert _counts(app)[1] == 21
        res.metrics.archive(now=later, drop_older_than=timedelta(days=70))
    assert _counts(app)[1] == 10


def test_retention_on_sqlite(make_app: object, sqlite_url: str) -> None:
    """On SQLite retention deletes archived rows of whole months past the drop cutoff."""
    from .conftest import build

    app, res = build(make_app, sqlite_url, RESILIENCE_ARCHIVE_DROP_AFTER_DAYS=70)  # type: ignore[arg-type]
    _fill(app, res, per_month=10)
    with app.app_context():
        report = res.metrics.archive(now=datetime(2024, 4, 20, tzinfo=UTC))
    assert report.rows_moved == 21 and [m.rows for m in report.dropped] == [11]
    assert _counts(app)[1] == 10


def test_stray_rows_of_an_archived_month_join_the_archive(pg: App) -> None:
    """A late row for an archived month waits in DEFAULT, then ensure moves it to the archive."""
    app, res = pg
    _fill(app, res, per_month=10)
    with app.app_context():
        res.metrics.archive(now=NOW)
        res.metrics.record("s", 9.0, at=JAN + timedelta(days=20))
        report = res.metrics.ensure_partitions(ahead=0, now=NOW)
        late = [p for p in res.metrics.query("s") if p.value == 9.0]
    assert report.moved_from_default == {"resilience_metrics_archive_y2024m01": 1}
    assert late and late[0].archived


def test_maintenance_lock_excludes_a_second_run(pg: App) -> None:
    """While one process holds the advisory lock, a second archive run is refused, not queued."""
    engine = get_state(pg[0]).engine
    with maintenance_lock(engine), pytest.raises(MaintenanceBusy):
        archive_months(engine, NOW, dry_run=True, lock_wait_seconds=0)


def test_sqlite_never_reuses_ids_of_archived_rows(make_app: object, sqlite_url: str) -> None:
    """AUTOINCREMENT: after the newest rows were archived, a late row gets a fresh id, so the
    next archival does not collide with the archived copies (UNIQUE constraint failed)."""
    from .conftest import build

    app, res = build(make_app, sqlite_url)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    with app.app_context():
        res.metrics.record_many([("s", 1.0, i, now) for i in range(3)])
        res.metrics.record_many([("s", 2.0, i, JAN + timedelta(days=i)) for i in range(5)])
        first = res.metrics.archive(timedelta(days=1))
        res.metrics.record("s", 3.0, at=JAN + timedelta(days=20))
        second = res.metrics.archive(timedelta(days=1))
    assert first.rows_moved == 5 and second.rows_moved == 1
    assert _counts(app) == (3, 6, 9)


def test_writer_into_the_month_being_archived_loses_nothing(pg: App) -> None:
    """A thread writing rows *of January* while January is archived keeps every row: those
    written before the swap move with the partition, later ones wait in DEFAULT until ensure
    puts them in the archived month."""
    app, res = pg
    _fill(app, res, per_month=2000)
    stop, started, written, errors = threading.Event(), threading.Event(), [0], []

    def writer() -> None:
        with app.app_context():
            while not stop.is_set() or written[0] < 2:
                try:
                    res.metrics.record("late", 1.0, at=JAN + timedelta(days=9, seconds=written[0]))
                    written[0] += 1
                    started.set()
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(10)
        with app.app_context():
            report = res.metrics.archive(now=NOW)
            after_swap = written[0]
    finally:
        stop.set()
        thread.join()
    assert not errors and written[0] > after_swap  # some rows came after the archival
    with app.app_context():
        ensured = res.metrics.ensure_partitions(ahead=0, now=NOW)
        late = res.metrics.query("late")
    live, archive, distinct = _counts(app)
    assert live + archive == distinct == 8001 + written[0]
    assert len(late) == written[0] and all(p.archived for p in late)
    in_default = ensured.moved_from_default.get("resilience_metrics_archive_y2024m01", 0)
    assert report.moved[0].rows + in_default == 2001 + written[0]
    assert ensured.default_rows == 0


def _statements(app: Flask) -> list[str]:
    """Every SQL statement the app's engine runs from now on (a real event listener)."""
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(get_state(app).engine, "before_cursor_execute", listen)
    return seen


def test_a_partition_without_a_check_is_validated_before_attach(pg: App) -> None:
    """A hand-made month (CREATE TABLE ... PARTITION OF, no CHECK) gets its CHECK NOT VALID,
    then VALIDATE under the weak lock, then the no-scan ATTACH; ensure's months need neither."""
    app, res = pg
    with get_state(app).engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE resilience_metrics_y2023m12 PARTITION OF resilience_metrics "
            "FOR VALUES FROM ('2023-12-01 00:00:00+00') TO ('2024-01-01 00:00:00+00')"
        )
    rows = [
        ("s", 1.0, i, datetime(2023, 12, 1, tzinfo=UTC) + timedelta(hours=i)) for i in range(50)
    ]
    rows += [("s", 1.0, i, JAN + timedelta(hours=i)) for i in range(50)]
    with app.app_context():
        res.metrics.record_many(rows)
        seen = _statements(app)
        report = res.metrics.archive(now=datetime(2024, 3, 15, tzinfo=UTC))
    assert [(m.partition, m.rows) for m in report.moved] == [
        ("resilience_metrics_archive_y2023m12", 50),
        ("resilience_metrics_archive_y2024m01", 50),
    ]
    ddl_run = [s for s in seen if "CONSTRAINT" in s]
    assert len(ddl_run) == 2, ddl_run  # for the hand-made month only
    assert ddl_run[0].endswith("NOT VALID") and "resilience_metrics_y2023m12" in ddl_run[0]
    assert "VALIDATE CONSTRAINT" in ddl_run[1] and "resilience_metrics_y2023m12" in ddl_run[1]
    with get_state(app).engine.connect() as connection:
        valid = connection.execute(
            text(
                "SELECT convalidated FROM pg_constraint "
                "WHERE conrelid = 'resilience_metrics_archive_y2023m12'::regclass AND contype = 'c'"
            )
        ).scalar_one()
    assert valid


def test_merge_into_an_archived_month_moves_rows_before_locking(pg: App) -> None:
    """The month is archived and a live partition of it exists too: its rows move to the
    archive under row locks while another writer holds the live table (the old code waited for
    ACCESS EXCLUSIVE before moving anything); only the final DETACH + DROP waits for it."""
    app, res = pg
    _fill(app, res, per_month=10)
    engine = get_state(app).engine
    with app.app_context():
        res.metrics.archive(now=NOW)  # January and February leave
    with maintenance_lock(engine) as connection:
        create_month(connection, JAN.date(), 1000)  # by hand, as an old recording path did
    late = [("s", 5.0, 900 + i, JAN + timedelta(days=10, minutes=i)) for i in range(120)]
    with app.app_context():
        res.metrics.record_many(late)
    before = _counts(app)
    done: list[ArchiveReport] = []
    with engine.connect() as blocker:  # an open write to the live table: ROW EXCLUSIVE on it
        blocker.execute(
            text(
                "INSERT INTO resilience_metrics (series, value, recorded_at) "
                "VALUES ('held', 1, '2024-04-02 00:00:00+00')"
            )
        )

        def run() -> None:
            with app.app_context():
                done.append(res.metrics.archive(now=NOW))

        thread = threading.Thread(target=run)
        thread.start()
        _wait_until(lambda: _count_january_live(app) == 0)  # moved while the blocker holds
        assert not done  # ...and the DETACH is still waiting for it
        blocker.commit()
        thread.join(30)
    report = done[0]
    assert [(m.partition, m.rows) for m in report.moved] == [
        ("resilience_metrics_archive_y2024m01", 120)
    ]
    assert report.notes and "merged" in report.notes[0]
    assert report.moved[0].locked_seconds < report.moved[0].seconds
    live, archive, distinct = _counts(app)
    assert (live, archive) == (before[0] - 120 + 1, before[1] + 120) and distinct == live + archive
    with app.app_context():
        names = {info.name for info in res.metrics.partitions()}
    assert "resilience_metrics_y2024m01" not in names


def _count_january_live(app: Flask) -> int:
    with get_state(app).engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM resilience_metrics_y2024m01")
            ).scalar_one()
        )


def _wait_until(predicate: Callable[[], bool], seconds: float = 15.0) -> None:
    """Poll a condition another thread brings about (no fixed sleeps)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.mark.parametrize("source", ["config", "env"])
def test_archive_after_days_from_config_and_environment(
    make_app: Callable[..., Flask],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    """RESILIENCE_ARCHIVE_AFTER_DAYS=60 (app config or environment) keeps February live."""
    from .conftest import build

    config: dict[str, object] = {}
    if source == "env":
        monkeypatch.setenv("RESILIENCE_ARCHIVE_AFTER_DAYS", "60")
    else:
        config["RESILIENCE_ARCHIVE_AFTER_DAYS"] = 60
    app, res = build(make_app, db_url, **config)
    with app.app_context():
        res.metrics.ensure_partitions(ahead=3, now=JAN)
    _fill(app, res, per_month=10)
    with app.app_context():
        report = res.metrics.archive(now=NOW)  # cutoff 2024-02-15
    assert [m.month.month for m in report.moved] == [1]


def test_app_config_wins_over_the_environment(
    make_app: Callable[..., Flask], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key set in app.config beats the environment variable of the same name."""
    from .conftest import build

    monkeypatch.setenv("RESILIENCE_ARCHIVE_AFTER_DAYS", "5")
    app, res = build(make_app, sqlite_url, RESILIENCE_ARCHIVE_AFTER_DAYS=90)
    with app.app_context():
        assert res.metrics.settings.after_days == 90


def test_archive_rejects_contradictory_ages(any_app: App) -> None:
    """A negative age, or retention that does not exceed the archive age, is a ValueError."""
    app, res = any_app
    with app.app_context():
        with pytest.raises(ValueError, match="negative"):
            res.metrics.archive(timedelta(days=-1))
        with pytest.raises(ValueError, match="must exceed"):
            res.metrics.archive(timedelta(days=30), drop_older_than=timedelta(days=30))
        with pytest.raises(ValueError, match="must exceed"):
            res.metrics.archive(timedelta(days=90), drop_older_than=timedelta(days=60))


def test_retention_dry_run_counts_months_this_run_would_archive(any_app: App) -> None:
    """A dry run with retention lists the months it would archive *and then drop*, like the
    real run does; nothing changes."""
    app, res = any_app
    _fill(app, res, per_month=10)
    later = datetime(2024, 4, 20, tzinfo=UTC)
    with app.app_context():
        preview = res.metrics.archive(
            timedelta(days=1), drop_older_than=timedelta(days=70), dry_run=True, now=later
        )
        assert _counts(app)[:2] == (41, 0)
        real = res.metrics.archive(timedelta(days=1), drop_older_than=timedelta(days=70), now=later)
    assert [m.month for m in preview.dropped] == [m.month for m in real.dropped] == [JAN.date()]
    assert [m.rows for m in preview.dropped] == [m.rows for m in real.dropped] == [11]
    assert [m.month.month for m in preview.moved] == [m.month.month for m in real.moved]


def test_a_database_error_mid_run_reports_what_moved(pg: App) -> None:
    """February cannot move (a stray table holds its archive name); the run stops with
    ArchiveInterrupted, whose report lists January, already archived, and the error."""
    app, res = pg
    _fill(app, res, per_month=10)
    with get_state(app).engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE resilience_metrics_archive_y2024m02 (x int)")
    with app.app_context(), pytest.raises(ArchiveInterrupted) as caught:
        res.metrics.archive(now=NOW)
    report = caught.value.report
    assert [(m.partition, m.rows) for m in report.moved] == [
        ("resilience_metrics_archive_y2024m01", 11)
    ]
    assert report.error and "UndefinedColumn" in report.error
    assert isinstance(caught.value.__cause__, DBAPIError)
    assert _counts(app)[:2] == (30, 11)  # February is whole and still live
