"""Autosave under load: gunicorn (2 workers) on PostgreSQL, 50 clients saving every 100 ms.

Each client owns one draft and PUTs it (with ``If-Match``, as autosave.js does) every 100 ms for
30 s over a keep-alive connection. Reported: saves/s, p50/p95/p99 latency from the client's
clock, status counts, and the lost-update check: every draft's final version must equal its
client's count of 200 responses.

Run from the repository root (needs PostgreSQL; a throwaway database is created and dropped)::

    .venv/bin/python -m benchmarks.autosave [--clients 50] [--interval 0.1] [--duration 30]

The app disables rate limits (the ``autosave`` preset allows 120 saves a minute per user, ten
times less than this load) so the figures are the draft endpoint's own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, request
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
DATABASE_ENV = "AUTOSAVE_BENCH_DATABASE_URL"


def create_app() -> Flask:
    """The app gunicorn serves: the extension with one kind, users named by ``X-User``."""
    from flask_resilience import Resilience

    app = Flask("autosave_bench")
    app.config.update(
        RESILIENCE_DATABASE_URL=os.environ[DATABASE_ENV],
        RESILIENCE_REDIS_URL=REDIS_URL,
        RATELIMIT_ENABLED=False,
    )
    res = Resilience(app, env="production")
    res.autosave.register("bench", owner=lambda key: key.split("-", 1)[0])
    res.user_loader(lambda: request.headers.get("X-User"))
    return app


@dataclass
class Client:
    """One simulated browser tab: its draft, its successes and its latencies."""

    index: int
    successes: int = 0
    version: int | None = None
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/resilience/autosave/bench/u{self.index}-draft"


def payload(step: int) -> bytes:
    """About 1 KB, shaped like a quiz attempt's progress."""
    answers = [{"question_id": q, "option_id": (q * 7 + step) % 4 + 1} for q in range(1, 31)]
    body = {"current_question_index": step % 30, "answers": answers, "time_spent": step / 10}
    return json.dumps(body).encode()


def run_client(client: Client, port: int, interval: float, deadline: float) -> None:
    """Save every ``interval`` seconds until ``deadline``; a late save goes at once."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    step, next_at = 0, time.monotonic()
    while next_at < deadline:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        headers = {"X-User": f"u{client.index}", "Content-Type": "application/json"}
        if client.version is not None:
            headers["If-Match"] = f'"{client.version}"'
        started = time.perf_counter()
        try:
            connection.request("PUT", client.path, body=payload(step), headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            client.statuses[0] += 1
        else:
            if step > 0:  # the first save opens the connection and warms the worker: not timed
                client.latencies.append(time.perf_counter() - started)
            client.statuses[response.status] += 1
            if response.status == 200:
                client.successes += 1
                client.version = json.loads(body)["version"]
        step += 1
        next_at += interval
    connection.close()


def final_version(client: Client, port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", client.path, headers={"X-User": f"u{client.index}"})
    response = connection.getresponse()
    version = json.loads(response.read())["version"] if response.status == 200 else 0
    connection.close()
    return int(version)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    database_url: str, port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    env = {**os.environ, DATABASE_ENV: database_url, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "gunicorn", "benchmarks.autosave:create_app()",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads),
        "--log-level", "warning", "--keep-alive", "30",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


def migrate(database_url: str) -> None:
    from flask_resilience import schema

    os.environ[DATABASE_ENV] = database_url
    app = create_app()
    schema.upgrade(app)
    app.extensions["resilience"].engine.dispose()


def report(clients: list[Client], port: int, seconds: float, args: argparse.Namespace) -> int:
    latencies = sorted(sample for c in clients for sample in c.latencies)
    statuses: Counter[int] = sum((c.statuses for c in clients), Counter())
    lost = sum(abs(final_version(c, port) - c.successes) for c in clients)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    server_errors = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    saves = sum(c.successes for c in clients)
    print(f"clients={args.clients} interval={args.interval}s duration={args.duration}s "
          f"workers={args.workers} threads={args.threads}")  # fmt: skip
    print(f"saves:       {saves} ({saves / seconds:.0f}/s)")
    print(f"statuses:    {dict(sorted(statuses.items()))}")
    print(f"latency ms:  p50 {quantiles[49] * 1000:.1f}  p95 {quantiles[94] * 1000:.1f}  "
          f"p99 {quantiles[98] * 1000:.1f}  max {latencies[-1] * 1000:.1f}")  # fmt: skip
    print(f"lost updates: {lost}   5xx/transport errors: {server_errors}")
    return 0 if lost == 0 and server_errors == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    admin_url = make_url(ADMIN_URL)
    name = f"autosave_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = admin_url.set(database=name).render_as_string(hide_password=False)
    process = None
    try:
        migrate(database_url)
        port = free_port()
        process = start_gunicorn(database_url, port, args.workers, args.threads)
        clients = [Client(i) for i in range(args.clients)]
        started = time.monotonic()
        deadline = started + args.duration
        threads = [
            threading.Thread(target=run_client, args=(c, port, args.interval, deadline))
            for c in clients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return report(clients, port, time.monotonic() - started, args)
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
