"""Apps with the metric tables migrated, on PostgreSQL (partitioned) and on SQLite (plain)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask

from flask_resilience import Resilience, schema

JAN = datetime(2024, 1, 1, tzinfo=UTC)
"""Tests pin their months in 2024, so they do not depend on today's date."""


def build(make_app: Callable[..., Flask], url: str, **config: object) -> tuple[Flask, Resilience]:
    res = Resilience()
    app = make_app({"RESILIENCE_DATABASE_URL": url, **config}, init=False)
    res.init_app(app)
    schema.upgrade(app)
    return app, res


@pytest.fixture
def pg(make_app: Callable[..., Flask], db_url: str) -> tuple[Flask, Resilience]:
    """A migrated app on PostgreSQL with live partitions for January to April 2024."""
    app, res = build(make_app, db_url)
    with app.app_context():
        res.metrics.ensure_partitions(ahead=3, now=JAN)
    return app, res


@pytest.fixture(params=["postgresql", "sqlite"])
def any_app(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask]
) -> tuple[Flask, Resilience]:
    """The same test on partitioned PostgreSQL and on plain SQLite tables."""
    if request.param == "sqlite":
        return build(make_app, str(request.getfixturevalue("sqlite_url")))
    pg_app: tuple[Flask, Resilience] = request.getfixturevalue("pg")
    return pg_app
