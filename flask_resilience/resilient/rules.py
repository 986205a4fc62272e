"""Persist what the healer learned in ``resilience_learned_rules``, so a fleet shares it.

Every process saves its rules now and then and loads them at start: a restarted (or newly scaled)
process begins where the fleet left off instead of relearning from zero. Saving is an upsert by
``(policy, signature)``, done with the dialect's own ``INSERT ... ON CONFLICT DO UPDATE``
(PostgreSQL and SQLite), so two processes saving at once never fail on the unique constraint; the
last writer wins, which is fine for scores that converge anyway.

>>> from sqlalchemy import create_engine
>>> from flask_resilience._foundation.database import metadata
>>> from flask_resilience.resilient.healer import FailureSignature, LearnedRuleData
>>> from flask_resilience.resilient.models import LearnedRule
>>> engine = create_engine("sqlite://")
>>> metadata.create_all(engine, tables=[LearnedRule.__table__])
>>> rule = LearnedRuleData("db", FailureSignature("db", "ConnectionError"), "retry", 0.9, 12, 100)
>>> save_rules(engine, [rule])
1
>>> load_rules(engine) == [rule], forget_rules(engine, "db")
(True, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ..errors import ConfigurationError
from .healer import FailureSignature, LearnedRuleData
from .models import LearnedRule

TABLE = cast(Table, LearnedRule.__table__)
_UPDATED = ("exception_type", "http_status", "strategy", "score", "observations", "base_backoff_ms")
_LIMITS = {"policy": 200, "signature": 300, "exception_type": 200, "strategy": 32}


def load_rules(engine: Engine, policy: str | None = None) -> list[LearnedRuleData]:
    """Every stored rule (of ``policy``, or all), sorted by policy and signature."""
    c = TABLE.c
    query = select(
        c.policy,
        c.exception_type,
        c.http_status,
        c.strategy,
        c.score,
        c.observations,
        c.base_backoff_ms,
    ).order_by(c.policy, c.signature)
    if policy is not None:
        query = query.where(c.policy == policy)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        LearnedRuleData(
            row.policy,
            FailureSignature(row.policy, row.exception_type, row.http_status),
            row.strategy,
            float(row.score),
            int(row.observations),
            row.base_backoff_ms,
        )
        for row in rows
    ]


def save_rules(engine: Engine, rules: Iterable[LearnedRuleData]) -> int:
    """Insert or update ``rules`` by (policy, signature); returns how many were written.

    Raises ``ConfigurationError`` on a database other than PostgreSQL or SQLite.
    """
    rows = {(row["policy"], row["signature"]): row for row in map(_row, rules)}
    if not rows:
        return 0
    dialect = engine.dialect.name
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise ConfigurationError("database", dialect, "learned rules need PostgreSQL or SQLite")
    statement = insert(TABLE)
    # ON CONFLICT updates skip Column.onupdate, so updated_at is set by hand.
    changes = {name: statement.excluded[name] for name in _UPDATED}
    statement = statement.on_conflict_do_update(
        index_elements=[TABLE.c.policy, TABLE.c.signature],
        set_={**changes, "updated_at": func.now()},
    )
    with engine.begin() as conn:
        conn.execute(statement, list(rows.values()))
    return len(rows)


def forget_rules(engine: Engine, policy: str | None = None) -> int:
    """Delete the stored rules of ``policy`` (or all of them); returns how many were deleted."""
    statement = delete(TABLE)
    if policy is not None:
        statement = statement.where(TABLE.c.policy == policy)
    with engine.begin() as conn:
        return int(conn.execute(statement).rowcount)


def _row(rule: LearnedRuleData) -> dict[str, Any]:
    sig = rule.signature
    row: dict[str, Any] = {
        "policy": rule.policy,
        "signature": sig.key,
        "exception_type": sig.exception_type,
        "http_status": sig.http_status,
        "strategy": rule.strategy,
        "score": float(rule.score),
        "observations": int(rule.observations),
        "base_backoff_ms": rule.base_backoff_ms,
    }
    for name, limit in _LIMITS.items():
        row[name] = row[name][:limit]
    return row
