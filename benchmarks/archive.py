"""Metric archive benchmark: archival by partition vs INSERT...SELECT + DELETE, on PostgreSQL.

In one run, in a throwaway database this script creates and drops:

* loads N rows (default 2,000,000; 200 series) spread evenly over 2024-01-01..2024-05-01 into the
  partitioned ``resilience_metrics`` and into an unpartitioned copy with the same indexes;
* archives January both ways while a writer thread inserts current rows one transaction at a
  time, recording its worst insert latency (the stall the archival caused);
* times the "last 1,000 points of one series" query on both layouts (live + archive merged);
* measures ``record_many`` throughput.

    .venv/bin/python benchmarks/archive.py                 # the full 2M-row run (~3 min here)
    .venv/bin/python benchmarks/archive.py --rows 200000   # a quick run

``--admin-url`` names a database to connect to for CREATE/DROP DATABASE (TEST_DATABASE_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/postgres by default).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The repository root instead of benchmarks/, whose limits.py would shadow the limits package.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from flask import Flask  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from flask_resilience import Resilience, get_state, schema  # noqa: E402
from flask_resilience.archive.query import points_query  # noqa: E402

SERIES = 200
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = datetime(2024, 5, 1, tzinfo=UTC) - START
CURRENT = datetime(2024, 5, 15, 12, tzinfo=UTC)
"""The writer's "now": a month the archival never touches."""
COLUMNS = "id, series, step, value, recorded_at, labels"
UNPARTITIONED = """
CREATE TABLE metrics_u (LIKE resilience_metrics INCLUDING DEFAULTS);
ALTER TABLE metrics_u ADD PRIMARY KEY (id, recorded_at);
CREATE INDEX ON metrics_u (series, step);
CREATE INDEX ON metrics_u (series, recorded_at) INCLUDE (value);
CREATE TABLE metrics_u_archive (LIKE metrics_u);
ALTER TABLE metrics_u_archive ADD PRIMARY KEY (id, recorded_at);
CREATE INDEX ON metrics_u_archive (series, step);
CREATE INDEX ON metrics_u_archive (series, recorded_at) INCLUDE (value);
"""


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new database for this run, dropped afterwards even when the run fails."""
    url = make_url(admin_url)
    name = f"resilience_bench_archive_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load(engine: Engine, rows: int) -> float:
    """Fill both layouts with the same rows; returns the seconds it took."""
    started = time.perf_counter()
    step_seconds = SPAN.total_seconds() / rows
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO resilience_metrics (series, step, value, recorded_at, labels) "
                "SELECT 'train:' || (g % :series), g / :series, random(), "
                "CAST(:start AS timestamptz) + g * make_interval(secs => :step), "
                """'{"run": "bench"}'::jsonb FROM generate_series(0, :rows - 1) AS g"""
            ),
            {"series": SERIES, "start": START, "step": step_seconds, "rows": rows},
        )
        connection.exec_driver_sql(UNPARTITIONED)
        connection.exec_driver_sql(
            f"INSERT INTO metrics_u SELECT {COLUMNS} FROM resilience_metrics"
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("resilience_metrics", "resilience_metrics_archive", "metrics_u"):
            connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
        connection.exec_driver_sql("CHECKPOINT")
    return time.perf_counter() - started


class Writer(threading.Thread):
    """Inserts one current row per transaction in a loop; keeps its worst latency."""

    def __init__(self, insert: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.insert = insert
        self.stop = threading.Event()
        self.latencies: list[float] = []

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            self.insert()
            self.latencies.append(time.perf_counter() - started)

    def __enter__(self) -> Writer:
        self.start()
        time.sleep(0.3)  # warm up: connection made, partition known, a baseline gathered
        self.latencies.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)
        self.stop.set()
        self.join()


def archive_by_partition(app: Flask, res: Resilience) -> tuple[float, float, float, int, Writer]:
    def insert() -> None:
        res.metrics.record("writer", 1.0, at=CURRENT)

    with app.app_context(), Writer(lambda: _in_context(app, insert)) as writer:
        started = time.perf_counter()
        report = res.metrics.archive(now=datetime(2024, 3, 15, tzinfo=UTC))
        elapsed = time.perf_counter() - started
    moved = report.moved[0]
    return elapsed, moved.seconds, moved.locked_seconds, moved.rows, writer


def _in_context(app: Flask, insert: Callable[[], None]) -> None:
    with app.app_context():
        insert()


def archive_by_copy(engine: Engine) -> tuple[float, int, Writer]:
    statement = text(
        "INSERT INTO metrics_u (series, step, value, recorded_at, id) "
        "VALUES ('writer', 0, 1.0, :at, nextval('resilience_metrics_id_seq'))"
    )

    def insert() -> None:
        with engine.begin() as connection:
            connection.execute(statement, {"at": CURRENT})

    cutoff = {"cutoff": datetime(2024, 2, 1, tzinfo=UTC)}
    with Writer(insert) as writer:
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(
                text(
                    f"INSERT INTO metrics_u_archive SELECT {COLUMNS} FROM metrics_u "
                    "WHERE recorded_at < :cutoff"
                ),
                cutoff,
            )
            rows = connection.execute(
                text("DELETE FROM metrics_u WHERE recorded_at < :cutoff"), cutoff
            ).rowcount
        elapsed = time.perf_counter() - started
    return elapsed, rows, writer


UNPARTITIONED_LAST = (
    "SELECT * FROM ((SELECT step, value, recorded_at, labels FROM metrics_u WHERE series = %(s)s "
    "ORDER BY recorded_at DESC LIMIT 1000) UNION ALL (SELECT step, value, recorded_at, labels "
    "FROM metrics_u_archive WHERE series = %(s)s ORDER BY recorded_at DESC LIMIT 1000)) AS p "
    "ORDER BY recorded_at DESC LIMIT 1000"
)


def query_latency(engine: Engine, partitioned: bool, runs: int = 300) -> dict[str, float]:
    """Last 1,000 points of a random series (live and archive merged), in ms: p50/p95 of the
    client round trip (fetching the rows into Python) and of the server's execution time."""
    rng = random.Random(7)
    client, server = [], []
    with engine.connect() as connection:
        for run in range(runs + 20):
            series = f"train:{rng.randrange(SERIES)}"
            if partitioned:
                compiled = points_query(series, limit=1000, descending=True).compile(
                    dialect=connection.dialect
                )
                sql, params = compiled.string, dict(compiled.params)
            else:
                sql, params = UNPARTITIONED_LAST, {"s": series}
            started = time.perf_counter()
            rows = connection.exec_driver_sql(sql, params).fetchall()
            elapsed = (time.perf_counter() - started) * 1000
            plan = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params
            ).scalar_one()
            if run >= 20:  # the first runs warm the cache
                client.append(elapsed)
                server.append(float(plan[0]["Execution Time"]))
            assert rows, "the series has points"
    return {
        "client_p50": statistics.median(client),
        "client_p95": statistics.quantiles(client, n=20)[18],
        "server_p50": statistics.median(server),
        "server_p95": statistics.quantiles(server, n=20)[18],
    }


def record_many_rate(app: Flask, res: Resilience, total: int = 200_000) -> float:
    batch = [("ingest:1", float(i), i, CURRENT + timedelta(microseconds=i)) for i in range(10_000)]
    with app.app_context():
        res.metrics.record_many(batch[:100])  # warm-up
        started = time.perf_counter()
        for _ in range(total // len(batch)):
            res.metrics.record_many(batch)
        return total / (time.perf_counter() - started)


def _stall(writer: Writer) -> str:
    worst = max(writer.latencies) * 1000
    median = statistics.median(writer.latencies) * 1000
    return f"worst {worst:.1f} ms, median {median:.2f} ms over {len(writer.latencies)} inserts"


def run(app: Flask, res: Resilience, rows: int) -> None:
    """Every measurement, printed as it completes."""
    engine = get_state(app).engine
    print(f"PostgreSQL {engine.dialect.server_version_info}, {rows:,} rows, {SERIES} series")
    print(f"load both layouts + VACUUM ANALYZE: {load(engine, rows):.1f} s")
    elapsed, total, locked, moved, writer = archive_by_partition(app, res)
    print(
        f"archive Jan by partition: {moved:,} rows in {elapsed * 1000:.1f} ms "
        f"(move {total * 1000:.1f} ms, live table locked {locked * 1000:.1f} ms)"
    )
    print(f"  concurrent writer during it: {_stall(writer)}")
    copy_elapsed, copy_rows, copy_writer = archive_by_copy(engine)
    print(
        f"archive Jan by INSERT...SELECT + DELETE: {copy_rows:,} rows in "
        f"{copy_elapsed * 1000:.0f} ms"
    )
    print(f"  concurrent writer during it: {_stall(copy_writer)}")
    print(f"  speed-up of partition archival: {copy_elapsed / elapsed:.0f}x")
    for label, partitioned in (("partitioned (API query)", True), ("unpartitioned", False)):
        q = query_latency(engine, partitioned)
        print(
            f"last 1,000 points of a series, {label}: server p50 {q['server_p50']:.2f} ms, "
            f"p95 {q['server_p95']:.2f} ms; client round trip p50 {q['client_p50']:.2f} ms, "
            f"p95 {q['client_p95']:.2f} ms"
        )
    print(f"record_many: {record_many_rate(app, res):,.0f} rows/s (batches of 10,000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    default_admin = os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--admin-url", default=default_admin)
    args = parser.parse_args()
    with scratch_database(args.admin_url) as url:
        app = Flask("bench")
        res = Resilience(app, database_url=url, jobs_embedded_worker=False)
        schema.upgrade(app)
        with app.app_context():
            res.metrics.ensure_partitions(ahead=4, now=START)
        try:
            run(app, res, args.rows)
        finally:
            Resilience().close(app)


if __name__ == "__main__":
    main()
