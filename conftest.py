"""Shared fixtures for the library's tests and the example app's tests.

Tests talk to a real PostgreSQL and a real Redis. Each run gets a throwaway PostgreSQL database,
each test a fresh schema inside it (fast, isolated) and a flushed Redis database number.
When a service cannot be reached the test fails with a message saying how to start it; it
never skips, so CI cannot go green without having exercised them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from flask_resilience import Resilience
from tests.black_hole import BlackHole

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
START_HINT = (
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "(PostgreSQL) or `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''` "
    "(Redis), "
    "or point TEST_DATABASE_URL / TEST_REDIS_URL elsewhere"
)


@pytest.fixture(scope="session")
def _run_database() -> Iterator[str]:
    """A PostgreSQL database created for this test run and dropped after it."""
    admin_url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL))
    name = f"resilience_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {admin_url!r} is unreachable ({exc}); {START_HINT}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_url(_run_database: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema private to this test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(_run_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = quote(f"-csearch_path={schema}")
    try:
        yield f"{_run_database}?options={options}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """A SQLite file URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'resilience.sqlite3'}"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database number, flushed before and after the test."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url!r} is unreachable ({exc}); {START_HINT}")
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    """A loopback port that accepts connections and never answers (a silent Redis host)."""
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


@pytest.fixture
def make_app(tmp_path: Any) -> Iterator[Callable[..., Flask]]:
    """Build an app with the extension: ``make_app(config={...}, **resilience_kwargs)``.

    Every app built is closed at teardown (engine disposed, Redis closed, worker stopped), so no
    connection outlives its test.
    """
    apps: list[Flask] = []

    def factory(config: dict[str, Any] | None = None, *, init: bool = True, **kwargs: Any) -> Flask:
        app = Flask("test_app", instance_path=str(tmp_path / "instance"))
        app.config.update(TESTING=True, SECRET_KEY="test")
        app.config.update(config or {})
        if init:
            Resilience(app, **kwargs)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        if "resilience" in app.extensions:
            Resilience().close(app)


@pytest.fixture
def app(make_app: Callable[..., Flask], db_url: str, redis_url: str) -> Flask:
    """An app on the real PostgreSQL and Redis."""
    return make_app({"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_url})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def _no_leaked_app_context() -> Iterator[None]:
    """Fail a test that leaves an app or request context pushed."""
    from flask import has_app_context, has_request_context

    yield
    assert not has_app_context(), "test leaked an app context"
    assert not has_request_context(), "test leaked a request context"


@pytest.fixture(autouse=True)
def _reset_process_wide_state() -> Iterator[None]:
    """Policies used outside an app context share a process runtime; give each test a new one."""
    from flask_resilience.resilient import set_testing
    from flask_resilience.resilient.named import reset_process_runtime

    reset_process_runtime()
    yield
    reset_process_runtime()
    set_testing(False)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep RESILIENCE_* variables of the developer's shell out of the tests."""
    for key in list(os.environ):
        if key.startswith("RESILIENCE_"):
            monkeypatch.delenv(key)
