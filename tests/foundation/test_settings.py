"""Settings and environment presets read at init_app."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from flask import Flask

from flask_resilience import PRESETS, ConfigurationError, Resilience, get_state
from flask_resilience._foundation.settings import Settings

EXPECTED_PRESETS = {
    "development": (0.10, 2, 3000, 2, 50, 0.3, 3, 10),
    "staging": (0.05, 3, 5000, 3, 100, 0.3, 5, 20),
    "production": (0.03, 5, 10000, 5, 100, 0.2, 10, 50),
}


@pytest.mark.parametrize("env", sorted(EXPECTED_PRESETS))
def test_presets_match_the_documented_table(
    make_app: Callable[..., Flask], sqlite_url: str, env: str
) -> None:
    """Each RESILIENCE_ENV selects exactly the documented engine defaults."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_ENV": env})
    preset = get_state(app).settings.engine
    assert (
        preset.exploration_rate,
        preset.max_retries,
        preset.breaker_reset_timeout_ms,
        preset.breaker_failure_threshold,
        preset.base_backoff_ms,
        preset.learning_rate_alpha,
        preset.learning_threshold,
        preset.strategy_evolution_interval,
    ) == EXPECTED_PRESETS[env]
    assert PRESETS[env] == preset


def test_explicit_key_beats_the_preset(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """An explicit RESILIENCE_MAX_RETRIES wins over the production preset's 5."""
    app = make_app(
        {
            "RESILIENCE_DATABASE_URL": sqlite_url,
            "RESILIENCE_ENV": "production",
            "RESILIENCE_MAX_RETRIES": 9,
        }
    )
    engine = get_state(app).settings.engine
    assert engine.max_retries == 9
    assert engine.breaker_failure_threshold == 5


def test_defaults(make_app: Callable[..., Flask]) -> None:
    """Unset keys give development, /resilience, embedded mode and a SQLite file in instance/."""
    app = make_app()
    settings = get_state(app).settings
    assert settings.env == "development"
    assert settings.url_prefix == "/resilience"
    assert settings.embedded is True
    assert settings.database_url == "sqlite:///" + os.path.join(
        app.instance_path, "resilience.sqlite3"
    )
    get_state(app).engine.dispose()


def test_environment_variables_configure_the_app(
    make_app: Callable[..., Flask], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A RESILIENCE_* environment variable is read when app.config does not set the key."""
    monkeypatch.setenv("RESILIENCE_ENV", "staging")
    monkeypatch.setenv("RESILIENCE_DATABASE_URL", sqlite_url)
    app = make_app()
    assert get_state(app).settings.env == "staging"
    assert get_state(app).settings.database_url == sqlite_url


def test_app_config_beats_environment(
    make_app: Callable[..., Flask], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key in app.config wins over the environment variable of the same name."""
    monkeypatch.setenv("RESILIENCE_ENV", "staging")
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_ENV": "production"})
    assert get_state(app).settings.env == "production"


def test_constructor_keyword_beats_app_config(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """Resilience(app, env=...) wins over app.config."""
    app = make_app(
        {"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_ENV": "production"}, env="staging"
    )
    assert get_state(app).settings.env == "staging"


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("RESILIENCE_DATABASE_URL", "", "empty"),
        ("RESILIENCE_DATABASE_URL", "not a url", "SQLAlchemy database URL"),
        ("RESILIENCE_REDIS_URL", "", "empty"),
        ("RESILIENCE_REDIS_URL", "http://127.0.0.1:6379/0", "scheme 'http'"),
        ("RESILIENCE_ENV", "prod", "development, staging, production"),
        ("RESILIENCE_RATELIMIT_DEFAULT", "lots per day", "parse"),
        ("RESILIENCE_URL_PREFIX", "resilience", "start with '/'"),
        ("RESILIENCE_EXPLORATION_RATE", "2", "<= 1.0"),
        ("RESILIENCE_MAX_RETRIES", "-1", ">= 0"),
        ("RESILIENCE_DATABASE_POOL_SIZE", "zero", "int"),
    ],
)
def test_bad_values_raise_configuration_error_naming_key_and_value(
    make_app: Callable[..., Flask], key: str, value: str, fragment: str
) -> None:
    """init_app refuses a set-but-bad key and the error names the key and the bad value."""
    app = make_app({key: value}, init=False)
    with pytest.raises(ConfigurationError) as info:
        Resilience(app)
    assert info.value.key == key
    assert info.value.value == value
    assert key in str(info.value) and repr(value) in str(info.value)
    assert fragment in str(info.value)
    assert "resilience" not in app.extensions


def test_empty_environment_secret_is_an_error(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty RESILIENCE_REDIS_URL from the environment never selects embedded mode."""
    monkeypatch.setenv("RESILIENCE_REDIS_URL", "")
    with pytest.raises(ConfigurationError, match="RESILIENCE_REDIS_URL"):
        make_app()


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://h:6380/1",
        "unix:///tmp/redis.sock",
        "redis+sentinel://h1:26379,h2:26379/mymaster",
        "redis+cluster://h1:7000",
    ],
)
def test_accepted_redis_schemes(make_app: Callable[..., Flask], url: str) -> None:
    """Every Redis URL form Flask-Limiter accepts passes validation."""
    app = make_app({"RESILIENCE_REDIS_URL": url}, init=False)
    settings, _ = Settings.from_app(app)
    assert settings.redis_url == url
    assert settings.embedded is False
