"""The resilient capability inside an app: Redis-shared breakers, healing, persisted rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from flask_resilience import CircuitOpenError, get_state, schema
from flask_resilience.resilient import BreakerState, Retry, resilient
from flask_resilience.resilient.healing_retry import HealingRetry
from flask_resilience.resilient.redis_store import RedisBreakerStore
from flask_resilience.resilient.rules import load_rules

LEARN_FAST = {
    "RESILIENCE_EXPLORATION_RATE": 0.0,
    "RESILIENCE_LEARNING_THRESHOLD": 1,
    "RESILIENCE_STRATEGY_EVOLUTION_INTERVAL": 1,
    "RESILIENCE_POLICIES": {
        "ledger": {
            "healing": True,
            "backoff_base": 0.0,
            "failure_threshold": 50,
            "failure_rate_threshold": None,
        }
    },
}


class FlakyOnce:
    """Fails every other call, so each outer call fails once and then heals."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls % 2:
            raise ConnectionError("connection reset")
        return "ok"


def test_production_breakers_are_shared_through_redis(
    make_app: Callable[..., Flask], db_url: str, redis_url: str
) -> None:
    """Two app instances on one Redis see one breaker: opened in one, rejected in the other."""
    config = {"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_url}
    first, second = make_app(config), make_app(config)
    policy = resilient("payments", max_attempts=1, failure_threshold=2, reset_timeout=30)

    def down() -> None:
        raise ConnectionError("payments down")

    with first.app_context():
        breaker = policy.resolve().breaker
        assert breaker is not None and isinstance(breaker.store, RedisBreakerStore)
        for _ in range(2):
            with pytest.raises(ConnectionError):
                policy.call(down)
        assert breaker.state is BreakerState.OPEN
    with second.app_context(), pytest.raises(CircuitOpenError):
        policy.call(lambda: "never runs")
    for app in (first, second):
        get_state(app).engine.dispose()


def test_healing_policy_learns_and_persists_rules(
    make_app: Callable[..., Flask], db_url: str, redis_url: str
) -> None:
    """A healing policy learns a rule, saves it, and a restarted app loads it on first use."""
    config = {"RESILIENCE_DATABASE_URL": db_url, "RESILIENCE_REDIS_URL": redis_url, **LEARN_FAST}
    app = make_app(config)
    schema.upgrade(app)
    flaky = FlakyOnce()
    with app.app_context():
        policy = resilient("ledger")
        assert isinstance(policy.resolve().retry, HealingRetry)
        results = [policy.call(flaky) for _ in range(6)]
    assert results == ["ok"] * 6
    saved = load_rules(get_state(app).engine, "ledger")
    assert [(rule.signature.exception_type, rule.strategy) for rule in saved] == [
        ("ConnectionError", "retry")
    ]

    restarted = make_app(config)
    with restarted.app_context():
        resilient("ledger").resolve()
        healer = get_state(restarted).capabilities["resilient"].healer
        assert [rule.strategy for rule in healer.learned_rules("ledger")] == ["retry"]
    for each in (app, restarted):
        get_state(each).engine.dispose()


def test_healing_can_be_switched_off(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """RESILIENCE_HEALING_ENABLED=false: policies asking for healing get a plain Retry."""
    app = make_app(
        {
            "RESILIENCE_DATABASE_URL": sqlite_url,
            "RESILIENCE_HEALING_ENABLED": "false",
            "RESILIENCE_POLICIES": {"ledger": {"healing": True}},
        }
    )
    with app.app_context():
        retry = resilient("ledger").resolve().retry
    assert isinstance(retry, Retry)
