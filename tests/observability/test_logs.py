"""Breaker changes and healing decisions reach loguru with the policy bound."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from loguru import logger

from flask_resilience import CircuitOpenError, RetryExhaustedError, schema
from flask_resilience.resilient import resilient


def test_breaker_open_is_a_warning_and_learning_is_info(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """An opening circuit logs WARNING; a learned healing rule logs INFO; both name the policy."""
    records: list[tuple[str, str, dict[str, object]]] = []
    sink = logger.add(
        lambda m: records.append((m.record["level"].name, m.record["message"], m.record["extra"])),
        level="DEBUG",
    )
    app = make_app(
        {
            "RESILIENCE_DATABASE_URL": sqlite_url,
            "RESILIENCE_EXPLORATION_RATE": 0.0,
            "RESILIENCE_LEARNING_THRESHOLD": 1,
            "RESILIENCE_STRATEGY_EVOLUTION_INTERVAL": 1,
        }
    )
    schema.upgrade(app)
    calls = iter([True, False] * 3 + [True] * 10)

    def flaky() -> str:
        if next(calls):
            raise ConnectionError("reset")
        return "ok"

    policy = resilient("ledger", healing=True, backoff_base=0.0, failure_threshold=3)
    try:
        with app.app_context():
            for _ in range(3):
                assert policy.call(flaky) == "ok"
            with pytest.raises(RetryExhaustedError):
                policy.call(flaky)  # three failed attempts: the third opens the circuit
            with pytest.raises(CircuitOpenError):
                policy.call(flaky)
    finally:
        logger.remove(sink)
    learned = [r for r in records if r[0] == "INFO" and "learned" in r[1]]
    assert learned and learned[0][2]["policy"] == "ledger"
    assert "ConnectionError" in str(learned[0][2]["signature"])
    opened = [r for r in records if r[0] == "WARNING" and "-> open" in r[1]]
    assert opened and opened[0][2]["policy"] == "ledger"
    assert any(r[0] == "DEBUG" and "healer ledger" in r[1] for r in records)
