"""Background jobs: our task API against bare RQ, in one run.

Run from the repository root: ``python -m benchmarks.jobs [--jobs 5000] [--fork-jobs 300]
[--simple-jobs 2000]``. Needs Redis on ``REDIS_URL`` (default ``redis://127.0.0.1:6379/14``,
flushed first) and PostgreSQL on ``DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), where a throwaway schema holds the outbox.

1. **Enqueue**: 5,000 trivial jobs through ``task.enqueue`` vs bare ``Queue.enqueue`` with
   ``JSONSerializer``, and ``task.enqueue_many`` vs ``Queue.enqueue_many`` (chunks of 500);
   median of 3 runs each, queues flushed between runs.
2. **Processing**: one burst worker process drains N jobs: ``rq worker`` (forking ``Worker`` and
   ``SimpleWorker``) against ``flask resilience worker`` (and ``--simple``). An empty-queue
   start-up is timed and subtracted.
3. **Latency**: 200 jobs enqueued one at a time to a running ``--simple`` worker (and a forking
   one); p50/p95 from the client's clock (enqueue call to the status record saying finished).
4. **Status**: Redis commands per status read (``INFO commandstats``) and ``GET /jobs/<id>``
   p50/p95 through the Flask test client (2,000 requests).
5. **Relay**: 10,000 outbox rows moved into RQ by ``relay()``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from rq import Queue, Retry
from rq.serializers import JSONSerializer
from sqlalchemy import create_engine, insert, text

from flask_resilience import Resilience, get_state, schema
from flask_resilience.jobs import runtime
from flask_resilience.jobs.models import OutboxJob

ROOT = Path(__file__).resolve().parent.parent

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
res = Resilience()


BARE_NOOP = "benchmarks.jobs_noop.noop"


@res.jobs.task(name="noop", queue="default", retries=0)
def noop_task(x: int) -> int:
    """The bare job declared as a task, with no retries, like the bare RQ job."""
    return x


@res.jobs.task(name="noop-retry", queue="default", retries=3)
def noop_retry(x: int) -> int:
    """The same with a retry policy, compared with bare RQ given the same ``Retry``."""
    return x


def create_app() -> Flask:
    app = Flask("bench_jobs")
    app.config.update(
        RESILIENCE_REDIS_URL=REDIS_URL,
        RESILIENCE_DATABASE_URL=os.environ.get("BENCH_DB", "sqlite://"),
        RATELIMIT_ENABLED=False,
        RESILIENCE_JOBS_OUTBOX="BENCH_DB" in os.environ,  # the in-memory SQLite has no table
    )
    res.init_app(app)
    return app


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_rate(n: int, fn: Any, flush: Any, runs: int = 3) -> float:
    rates = []
    for _ in range(runs):
        flush()
        rates.append(n / timed(fn))
    return statistics.median(rates)


def bench_enqueue(app: Flask, n: int) -> dict[str, float]:
    client = get_state(app).redis
    queue = Queue("default", connection=client, serializer=JSONSerializer)
    chunks = [list(range(i, min(i + 500, n))) for i in range(0, n, 500)]
    with app.app_context():
        task = noop_task

        def ours() -> None:
            for i in range(n):
                task.enqueue(i)

        def ours_many() -> None:
            for chunk in chunks:
                task.enqueue_many([[i] for i in chunk])

        def bare() -> None:
            for i in range(n):
                queue.enqueue(BARE_NOOP, i)

        def bare_many() -> None:
            for chunk in chunks:
                queue.enqueue_many([Queue.prepare_data(BARE_NOOP, (i,)) for i in chunk])

        def ours_retry() -> None:
            for i in range(n):
                noop_retry.enqueue(i)

        def bare_retry() -> None:
            for i in range(n):
                queue.enqueue(BARE_NOOP, i, retry=Retry(3, [2, 4, 8]))

        return {
            "bare_enqueue": median_rate(n, bare, client.flushdb),
            "our_enqueue": median_rate(n, ours, client.flushdb),
            "bare_enqueue_many": median_rate(n, bare_many, client.flushdb),
            "our_enqueue_many": median_rate(n, ours_many, client.flushdb),
            "bare_enqueue_retry": median_rate(n, bare_retry, client.flushdb),
            "our_enqueue_retry": median_rate(n, ours_retry, client.flushdb),
        }


def worker_command(kind: str) -> list[str]:
    rq_cli = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", REDIS_URL]
    rq_cli += ["-S", "rq.serializers.JSONSerializer", "-q"]
    ours = [sys.executable, "-m", "flask", "--app", "benchmarks.jobs:create_app"]
    ours += ["resilience", "worker", "--burst", "--logging-level", "WARNING"]
    in_app = [sys.executable, "-m", "benchmarks.jobs", "--bare-worker"]
    return {
        "rq fork": [*rq_cli, "default"],
        "rq simple": [*rq_cli, "-w", "rq.worker.SimpleWorker", "default"],
        "rq fork in app": [*in_app, "fork"],
        "rq simple in app": [*in_app, "simple"],
        "ours fork": ours,
        "ours simple": [*ours, "--simple"],
    }[kind]


def run_worker(kind: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return timed(lambda: subprocess.run(worker_command(kind), cwd=ROOT, env=env, check=True))


def bench_processing(app: Flask, fork_jobs: int, simple_jobs: int) -> dict[str, float]:
    client = get_state(app).redis
    queue = Queue("default", connection=client, serializer=JSONSerializer)
    rates = {}
    kinds = ("rq fork", "rq fork in app", "ours fork", "rq simple", "rq simple in app")
    for kind in (*kinds, "ours simple"):
        n = fork_jobs if "fork" in kind else simple_jobs
        client.flushdb()
        startup = statistics.median(run_worker(kind) for _ in range(2))
        with app.app_context():
            if kind in ("rq fork", "rq simple"):  # bare jobs; "in app" rows run our tasks
                for start in range(0, n, 500):
                    queue.enqueue_many(
                        [
                            Queue.prepare_data(BARE_NOOP, (i,))
                            for i in range(start, min(start + 500, n))
                        ]
                    )
            else:
                for start in range(0, n, 500):
                    noop_task.enqueue_many([[i] for i in range(start, min(start + 500, n))])
        elapsed = run_worker(kind) - startup
        rates[kind] = n / elapsed
    return rates


def bench_worker_classes(app: Flask, fork_jobs: int, simple_jobs: int) -> dict[str, float]:
    """Our worker class against the RQ class it wraps, both built and timed in this process.

    The subprocess rows above include interpreter start and app import, subtracted as the
    median of two empty runs, which swings by seconds on a loaded machine. Here only
    ``work(burst=True)`` is timed, interleaved, median of three, and both classes run the
    same wrapped task, so the difference is the class itself (app context, maintenance ticks,
    outage handling, the horse-death check).
    """
    from rq import SimpleWorker, Worker

    from flask_resilience.jobs.worker import build_worker

    connection = get_state(app).redis
    queue = Queue("default", connection=connection, serializer=JSONSerializer)

    def fill(n: int) -> None:
        connection.flushdb()
        with app.app_context():
            for start in range(0, n, 500):
                noop_task.enqueue_many([[i] for i in range(start, min(start + 500, n))])

    def rq_class(cls: Any) -> None:
        cls([queue], connection=connection, serializer=JSONSerializer).work(
            burst=True, logging_level="WARNING"
        )

    def ours(simple: bool) -> None:
        build_worker(app, runtime(app), queues=["default"], simple=simple).work(
            burst=True, logging_level="WARNING"
        )

    variants = {
        "RQ Worker": (fork_jobs, lambda: rq_class(Worker)),
        "ours fork": (fork_jobs, lambda: ours(False)),
        "RQ SimpleWorker": (simple_jobs, lambda: rq_class(SimpleWorker)),
        "ours simple": (simple_jobs, lambda: ours(True)),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(3):
        for name, (n, run) in variants.items():
            fill(n)
            rates[name].append(n / timed(run))
    return {name: statistics.median(values) for name, values in rates.items()}


def bench_latency(app: Flask, jobs: int, simple: bool) -> tuple[float, float]:
    client = get_state(app).redis
    client.flushdb()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = worker_command("ours simple" if simple else "ours fork")
    worker = subprocess.Popen([c for c in command if c != "--burst"], cwd=ROOT, env=env)
    samples = []
    try:
        with app.app_context():
            noop_task.enqueue(0)
            time.sleep(1.0)  # worker up
            for i in range(jobs):
                started = time.perf_counter()
                job_id = noop_task.enqueue(i).id
                key = f"resilience:job:{job_id}"
                while client.hget(key, "status") != b"finished":
                    time.sleep(0.0005)
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        worker.terminate()
        worker.wait(30)
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18]


def bench_status(app: Flask) -> dict[str, Any]:
    client = get_state(app).redis
    client.flushdb()
    with app.app_context():
        job_id = noop_task.enqueue(1).id
        client.config_resetstat()
        res.jobs.status(job_id)
        stats = client.info("commandstats")
    ignored = {"cmdstat_info", "cmdstat_config|resetstat"}
    commands = {
        k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items() if k not in ignored
    }
    test_client = app.test_client()
    url = f"/resilience/jobs/{job_id}"
    for _ in range(200):
        test_client.get(url)
    samples = []
    for _ in range(2000):
        started = time.perf_counter()
        test_client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=20)
    return {"commands": commands, "p50": statistics.median(samples), "p95": cuts[18]}


def bench_relay(rows: int) -> float:
    schema_name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    try:
        os.environ["BENCH_DB"] = f"{DATABASE_URL}?options=-csearch_path%3D{schema_name}"
        app = create_app()
        schema.upgrade(app)
        get_state(app).redis.flushdb()
        payload = json.dumps({"spec": noop_task.spec.as_json(), "args": [1], "kwargs": {}})
        now = datetime.now(UTC)
        values = [
            {
                "id": uuid.uuid4().hex,
                "task": "noop",
                "queue": "default",
                "payload": payload,
                "created_at": now,
            }
            for _ in range(rows)
        ]
        with get_state(app).engine.begin() as conn:
            conn.execute(insert(OutboxJob), values)
        with app.app_context():
            elapsed = timed(lambda: runtime().relay())
            assert runtime().queue("default").count == rows
        res.close(app)
        return rows / elapsed
    finally:
        os.environ.pop("BENCH_DB", None)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        admin.dispose()


def bare_worker(kind: str) -> None:
    """RQ's own worker class, run in a process that loaded the app like ours does."""
    from rq import SimpleWorker, Worker

    app = create_app()
    connection = get_state(app).redis
    queue = Queue("default", connection=connection, serializer=JSONSerializer)
    cls = SimpleWorker if kind == "simple" else Worker
    cls([queue], connection=connection, serializer=JSONSerializer).work(
        burst=True, logging_level="WARNING"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bare-worker", choices=("fork", "simple"), help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--fork-jobs", type=int, default=300)
    parser.add_argument("--simple-jobs", type=int, default=2000)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--relay-rows", type=int, default=10_000)
    args = parser.parse_args()
    if args.bare_worker:
        bare_worker(args.bare_worker)
        return
    redis.Redis.from_url(REDIS_URL).flushdb()
    app = create_app()
    print(f"rq {version('rq')}, redis-py {version('redis')}, Python {sys.version.split()[0]}")
    enqueue = bench_enqueue(app, args.jobs)
    print(f"\n1. enqueue, {args.jobs} jobs (jobs/s, median of 3)")
    for name, rate in enqueue.items():
        print(f"   {name:<20} {rate:8.0f}")
    ratios = {
        kind: enqueue[f"our_{kind}"] / enqueue[f"bare_{kind}"]
        for kind in ("enqueue", "enqueue_many", "enqueue_retry")
    }
    print("   ours / bare: " + ", ".join(f"{k} {v:.0%}" for k, v in ratios.items()))
    processing = bench_processing(app, args.fork_jobs, args.simple_jobs)
    print("\n2. processing, one burst worker (jobs/s)")
    for name, rate in processing.items():
        print(f"   {name:<20} {rate:8.1f}")
    for kind in ("fork", "simple"):
        ours = processing[f"ours {kind}"]
        print(
            f"   ours / bare {kind}: {ours / processing[f'rq {kind}']:.0%} of the rq CLI, "
            f"{ours / processing[f'rq {kind} in app']:.0%} of RQ's class in the app's process"
        )
    classes = bench_worker_classes(app, args.fork_jobs, args.simple_jobs)
    print("\n2b. worker class in this process, work() timed only (jobs/s, median of 3)")
    for name, rate in classes.items():
        print(f"   {name:<20} {rate:8.1f}")
    print(
        f"   ours / RQ's class: fork {classes['ours fork'] / classes['RQ Worker']:.0%}, "
        f"simple {classes['ours simple'] / classes['RQ SimpleWorker']:.0%}"
    )
    print(f"\n3. end-to-end latency, {args.latency_jobs} jobs (client clock, ms)")
    for simple in (True, False):
        p50, p95 = bench_latency(app, args.latency_jobs, simple)
        print(f"   {'simple' if simple else 'fork':<8} p50 {p50:6.2f}  p95 {p95:6.2f}")
    status = bench_status(app)
    print(
        f"\n4. status read: Redis commands {status['commands']}; GET /jobs/<id> "
        f"p50 {status['p50']:.3f} ms, p95 {status['p95']:.3f} ms"
    )
    res.close(app)
    print(f"\n5. outbox relay, {args.relay_rows} rows: {bench_relay(args.relay_rows):,.0f} jobs/s")


if __name__ == "__main__":
    # Workers import tasks by path, so run the copy of this module importable as
    # ``benchmarks.jobs`` rather than ``__main__``.
    from benchmarks import jobs

    jobs.main()
