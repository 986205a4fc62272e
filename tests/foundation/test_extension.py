"""The Resilience extension object: init_app, per-app state, identity hooks, embedded mode."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import create_engine

from flask_resilience import Resilience, get_state
from flask_resilience.extension import EMBEDDED_WARNING


def test_double_init_is_refused(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Registering twice on one app raises instead of silently replacing the state."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    with pytest.raises(RuntimeError, match="already registered"):
        Resilience(app)


def test_one_object_serves_several_apps(tmp_path: object) -> None:
    """A single Resilience object keeps separate state for each app it was initialised on."""
    res = Resilience()
    first = Flask("first", instance_path=f"{tmp_path}/one")
    second = Flask("second", instance_path=f"{tmp_path}/two")
    first.config["RESILIENCE_ENV"] = "production"
    second.config["RESILIENCE_ENV"] = "staging"
    res.init_app(first)
    res.init_app(second)
    assert get_state(first).settings.env == "production"
    assert get_state(second).settings.env == "staging"
    assert get_state(first) is not get_state(second)
    assert get_state(first).redis is not get_state(second).redis
    with first.app_context():
        assert res.engine is get_state(first).engine
    for app in (first, second):
        get_state(app).engine.dispose()


def test_host_engine_is_used_as_is(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Passing engine= shares the host's engine instead of creating one."""
    engine = create_engine(sqlite_url)
    app = make_app(engine=engine)
    state = get_state(app)
    assert state.engine is engine
    assert state.owns_engine is False
    engine.dispose()


def test_embedded_mode_warns_once_with_the_fix(
    make_app: Callable[..., Flask], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Embedded mode logs exactly one WARNING telling what to set for production."""
    with caplog.at_level(logging.WARNING, logger="flask_resilience"):
        app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [EMBEDDED_WARNING]
    assert "RESILIENCE_REDIS_URL" in EMBEDDED_WARNING
    state = get_state(app)
    state.redis.set("k", "v")
    assert state.redis.get("k") == b"v"


def test_real_redis_mode_does_not_warn(
    make_app: Callable[..., Flask],
    db_url: str,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With a Redis URL the app talks to the real server and logs no embedded warning."""
    with caplog.at_level(logging.WARNING, logger="flask_resilience"):
        app = make_app({"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_url})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    state = get_state(app)
    assert state.settings.embedded is False
    state.redis.set("resilience-test", "1")
    assert state.redis.get("resilience-test") == b"1"
    state.engine.dispose()


def test_user_loader_and_admin_auth_reach_every_app(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """Hooks registered after init_app apply to apps already initialised."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}, init=False)
    res = Resilience(app)
    state = get_state(app)
    with app.test_request_context("/"):
        assert state.current_user_id() is None
        assert state.is_admin() is False

    @res.user_loader
    def user() -> int:
        return 42

    @res.admin_auth
    def admin() -> bool:
        return True

    with app.test_request_context("/"):
        assert state.current_user_id() == 42
        assert state.is_admin() is True


def test_state_of_an_app_without_the_extension_is_a_clear_error() -> None:
    """get_state on a bare app explains how to initialise the extension."""
    with pytest.raises(RuntimeError, match="Resilience\\(app\\)"):
        get_state(Flask("bare"))


def test_trusted_proxies_apply_proxy_fix(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """X-Forwarded-For is honoured only when RESILIENCE_TRUSTED_PROXIES is set."""
    seen: list[str | None] = []

    def build(proxies: int) -> Flask:
        app = make_app(
            {"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_TRUSTED_PROXIES": proxies}
        )
        app.add_url_rule("/ip", "ip", lambda: seen.append(_remote()) or "ok")
        return app

    from flask import request

    def _remote() -> str | None:
        return request.remote_addr

    headers = {"X-Forwarded-For": "203.0.113.9"}
    build(0).test_client().get("/ip", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    app_with_proxy = build(1)
    app_with_proxy.test_client().get(
        "/ip", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    assert seen == ["10.0.0.1", "203.0.113.9"]


def test_close_releases_what_the_extension_owns(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """close() stops the embedded worker and disposes an engine the extension created."""
    from flask_resilience.jobs import get_queue, runtime

    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}, init=False)
    res = Resilience(app)
    get_queue("default", app)
    worker = runtime(app).embedded_worker
    assert worker is not None and worker.running
    res.close(app)
    assert not worker.running
    assert get_state(app).engine.pool.checkedout() == 0


def test_settings_for_reads_without_connecting(make_app: Callable[..., Flask]) -> None:
    """settings_for validates the config before init_app and honours constructor overrides."""
    app = make_app({"RESILIENCE_REDIS_URL": "redis://127.0.0.1:1/0"}, init=False)
    assert Resilience().settings_for(app).embedded is False
    assert Resilience(env="staging").settings_for(app).env == "staging"
    assert "resilience" not in app.extensions
