"""Named policies resolve their settings from the app, the environment and keyword arguments."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from flask_resilience import CircuitOpenError, ConfigurationError
from flask_resilience.resilient import NamedPolicy, PolicyRegistry, resilient
from flask_resilience.resilient.named import current_runtime, reset_process_runtime


@pytest.fixture(autouse=True)
def _fresh_process_runtime() -> Iterator[None]:
    reset_process_runtime()
    yield
    reset_process_runtime()


def _app(make_app: Callable[..., Flask], sqlite_url: str, **config: object) -> Flask:
    return make_app({"RESILIENCE_DATABASE_URL": sqlite_url, **config})


def test_precedence_kwargs_then_config_then_preset(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """Keyword arguments beat RESILIENCE_POLICIES, which beats the RESILIENCE_ENV preset."""
    app = _app(
        make_app,
        sqlite_url,
        RESILIENCE_ENV="production",
        RESILIENCE_POLICIES={"payments": {"max_attempts": 4, "timeout": 2.0}},
    )
    with app.app_context():
        configured = resilient("payments").resolve()
        overridden = resilient("payments", max_attempts=7).resolve()
        preset_only = resilient("other").resolve()
    assert configured.retry is not None and configured.retry.max_attempts == 4
    assert configured.timeout is not None and configured.timeout.seconds == 2.0
    assert overridden.retry is not None and overridden.retry.max_attempts == 7
    assert preset_only.retry is not None and preset_only.retry.max_attempts == 6
    assert preset_only.breaker is not None
    assert preset_only.breaker.config.failure_threshold == 5
    assert preset_only.breaker.config.reset_timeout == 10.0
    assert configured.breaker is overridden.breaker


def test_each_app_has_its_own_breakers(make_app: Callable[..., Flask], tmp_path: object) -> None:
    """The same policy name in two apps resolves to two breakers with each app's preset."""
    dev = make_app({"RESILIENCE_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"})
    prod = make_app(
        {"RESILIENCE_DATABASE_URL": f"sqlite:///{tmp_path}/b.db", "RESILIENCE_ENV": "production"}
    )
    policy = resilient("shared-name")
    with dev.app_context():
        dev_policy = policy.resolve()
    with prod.app_context():
        prod_policy = policy.resolve()
    assert dev_policy.breaker is not prod_policy.breaker
    assert dev_policy.breaker is not None and prod_policy.breaker is not None
    assert dev_policy.breaker.config.failure_threshold == 2
    assert prod_policy.breaker.config.failure_threshold == 5


def test_outside_an_app_the_environment_configures_policies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers and scripts without an app context get the same settings from RESILIENCE_* vars."""
    monkeypatch.setenv("RESILIENCE_ENV", "staging")
    monkeypatch.setenv("RESILIENCE_POLICIES", '{"mailer": {"max_attempts": 5}}')
    mailer = resilient("mailer").resolve()
    other = resilient("other").resolve()
    assert mailer.retry is not None and mailer.retry.max_attempts == 5
    assert other.retry is not None and other.retry.max_attempts == 4
    assert current_runtime().policies == {"mailer": {"max_attempts": 5}}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ({"payments": {"max_attemps": 3}}, "unknown setting"),
        ({"payments": {"max_attempts": 0}}, "max_attempts"),
        ({"payments": {"window": "sideways"}}, "window"),
        (["payments"], "mapping"),
    ],
)
def test_bad_policy_config_fails_at_start(
    make_app: Callable[..., Flask], sqlite_url: str, value: object, fragment: str
) -> None:
    """A malformed RESILIENCE_POLICIES raises ConfigurationError at init_app."""
    with pytest.raises(ConfigurationError, match=fragment) as info:
        _app(make_app, sqlite_url, RESILIENCE_POLICIES=value)
    assert info.value.key.startswith("RESILIENCE_POLICIES")


def test_decorated_function_counts_outcomes(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """Successes, failures and rejections of a named policy are counted per app."""
    app = _app(make_app, sqlite_url)
    attempts: list[int] = []

    @resilient("flaky", max_attempts=1, failure_threshold=2, reset_timeout=60)
    def flaky(fail: bool) -> str:
        attempts.append(1)
        if fail:
            raise ConnectionError("down")
        return "ok"

    with app.app_context():
        assert flaky(False) == "ok"
        for _ in range(2):
            with pytest.raises(ConnectionError):
                flaky(True)
        with pytest.raises(CircuitOpenError):
            flaky(False)
        stats = current_runtime().stats["flaky"].snapshot()
    assert (stats.successes, stats.failures, stats.rejected) == (1, 2, 1)
    assert len(attempts) == 3
    assert sum(stats.buckets) == 4


def test_async_and_context_manager_forms(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """async def functions and `with resilient(...) as call` resolve against the app too."""
    app = _app(make_app, sqlite_url, RESILIENCE_POLICIES={"aio": {"max_attempts": 2}})
    calls: list[int] = []

    @resilient("aio", backoff_base=0.0)
    async def fetch() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("slow")
        return 42

    with app.app_context():
        assert asyncio.run(fetch()) == 42
        with resilient("aio") as call:
            assert call(lambda: "sync") == "sync"
    assert len(calls) == 2


def test_explicit_registry_builds_a_standalone_policy() -> None:
    """Passing registry= bypasses app configuration and builds the policy at once."""
    registry = PolicyRegistry()
    policy = resilient("solo", registry=registry, max_attempts=2)
    assert not isinstance(policy, NamedPolicy)
    assert policy.retry is not None and policy.retry.max_attempts == 2
    assert registry.get("solo") is policy.breaker
