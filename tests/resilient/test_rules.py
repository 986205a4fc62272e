"""Learned rules persisted in resilience_learned_rules, on PostgreSQL and SQLite."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from flask_resilience._foundation.clock import ManualClock
from flask_resilience._foundation.database import metadata
from flask_resilience.resilient.healer import (
    RETRY,
    RETRY_FAST,
    FailureSignature,
    Healer,
    LearnedRuleData,
)
from flask_resilience.resilient.models import LearnedRule
from flask_resilience.resilient.rules import TABLE, forget_rules, load_rules, save_rules

SIG = FailureSignature("payments", "httpx.HTTPStatusError", 503)
OTHER = FailureSignature("search", "TimeoutError")


@pytest.fixture(params=["db_url", "sqlite_url"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on PostgreSQL or SQLite with the learned-rules table created."""
    engine = create_engine(request.getfixturevalue(request.param))
    metadata.create_all(engine, tables=[LearnedRule.__table__])  # type: ignore[list-item]
    try:
        yield engine
    finally:
        engine.dispose()


def rule(sig: FailureSignature, strategy: str = RETRY, score: float = 0.9) -> LearnedRuleData:
    return LearnedRuleData(sig.policy, sig, strategy, score, 12, 150)


def healer(rng_seed: int = 0) -> Healer:
    return Healer(
        exploration_rate=0.0,
        learning_threshold=3,
        base_backoff=0.1,
        rng=random.Random(rng_seed),
        clock=ManualClock(),
    )


def test_rules_round_trip(engine: Engine) -> None:
    """Saved rules load back equal, status and backoff included, sorted by policy."""
    rules = [rule(OTHER, RETRY_FAST, 0.75), rule(SIG)]
    assert save_rules(engine, rules) == 2
    assert load_rules(engine) == [rule(SIG), rule(OTHER, RETRY_FAST, 0.75)]
    assert load_rules(engine, "search") == [rule(OTHER, RETRY_FAST, 0.75)]


def test_saving_again_updates_in_place(engine: Engine) -> None:
    """A second save of the same (policy, signature) updates the row instead of failing."""
    save_rules(engine, [rule(SIG, RETRY, 0.6)])
    save_rules(engine, [rule(SIG, RETRY_FAST, 0.95), rule(SIG, RETRY_FAST, 0.97)])
    assert load_rules(engine) == [rule(SIG, RETRY_FAST, 0.97)]
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(TABLE)).scalar_one()
        updated = conn.execute(select(TABLE.c.updated_at)).scalar_one()
    assert count == 1 and updated is not None


def test_saving_nothing_writes_nothing(engine: Engine) -> None:
    """An empty rule list is a no-op."""
    assert save_rules(engine, []) == 0
    assert load_rules(engine) == []


def test_forget_rules_of_one_policy_or_all(engine: Engine) -> None:
    """forget_rules deletes one policy's rules, or every rule, and says how many."""
    save_rules(engine, [rule(SIG), rule(OTHER)])
    assert forget_rules(engine, "payments") == 1
    assert [r.policy for r in load_rules(engine)] == ["search"]
    assert forget_rules(engine) == 1
    assert load_rules(engine) == []


def test_a_restarted_healer_starts_from_the_saved_rules(engine: Engine) -> None:
    """What one healer learned is saved, loaded by a fresh one, and followed at once."""
    teacher = healer()
    for _ in range(3):
        teacher.record(SIG, RETRY_FAST, True)
        teacher.record(SIG, RETRY, False)
    save_rules(engine, teacher.learned_rules())

    student = healer(1)
    assert student.load(load_rules(engine)) == 1
    assert student.learned_rules() == teacher.learned_rules()
    assert student.decide(SIG, (RETRY, RETRY_FAST)).strategy == RETRY_FAST
    assert student.base_backoff_for(SIG) == pytest.approx(0.1)
    assert student.score(SIG, RETRY)[0] == pytest.approx(teacher.score(SIG, RETRY_FAST)[0] / 2)


def test_loaded_backoff_is_restored() -> None:
    """A rule's base_backoff_ms becomes the signature's base backoff."""
    student = healer()
    student.load([rule(SIG)])
    assert student.base_backoff_for(SIG) == pytest.approx(0.15)
    assert student.forget("payments") == 1 and student.learned_rules() == []
