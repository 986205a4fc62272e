"""`flask resilience rules ...` and `flask resilience stress`, through the real CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_resilience import get_state, schema
from flask_resilience.cli import resilience_group
from flask_resilience.resilient.healer import FailureSignature, LearnedRuleData
from flask_resilience.resilient.rules import load_rules, save_rules
from flask_resilience.resilient.runtime import PolicyRuntime

PRODUCTION = {"RESILIENCE_ENV": "production", "RESILIENCE_POLICIES": {"stress": {"healing": True}}}
RULES = [
    LearnedRuleData("db", FailureSignature("db", "OperationalError"), "retry", 0.91, 40, 150),
    LearnedRuleData("payments", FailureSignature("payments", "HTTPError", 503), "retry", 0.8, 12),
    LearnedRuleData("payments", FailureSignature("payments", "HTTPError", 400), "fail_fast", 1, 9),
]


def _runtime(app: Flask) -> PolicyRuntime:
    runtime: PolicyRuntime = get_state(app).capabilities["resilient"]
    return runtime


@pytest.fixture
def pg_app(make_app: Callable[..., Flask], db_url: str) -> Flask:
    """An app on PostgreSQL with the extension's tables migrated and three rules stored."""
    app = make_app({"RESILIENCE_DATABASE_URL": db_url})
    schema.upgrade(app)
    save_rules(get_state(app).engine, RULES)
    return app


def _invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(resilience_group, list(args))


def test_rules_list_without_the_table_says_to_upgrade(
    make_app: Callable[..., Flask], db_url: str
) -> None:
    """Before the migrations ran, listing rules fails with the command that fixes it."""
    result = _invoke(make_app({"RESILIENCE_DATABASE_URL": db_url}), "rules", "list")
    assert result.exit_code == 1
    assert "flask resilience db upgrade" in result.output


def test_rules_list_when_none_were_learned(make_app: Callable[..., Flask], db_url: str) -> None:
    """A migrated but empty table gives a plain message, not an empty table."""
    app = make_app({"RESILIENCE_DATABASE_URL": db_url})
    schema.upgrade(app)
    result = _invoke(app, "rules", "list")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no learned rules yet"
    assert "for policy 'db'" in _invoke(app, "rules", "list", "--policy", "db").output


def test_rules_list_shows_every_stored_rule(pg_app: Flask) -> None:
    """The table has a header and one line per rule, with score, observations and backoff."""
    result = _invoke(pg_app, "rules", "list")
    assert result.exit_code == 0, result.output
    header, rule_line, *rows = result.output.strip().splitlines()
    assert re.split(r"\s{2,}", header) == [
        "policy",
        "signature",
        "strategy",
        "score",
        "observations",
        "base backoff",
    ]
    assert set(rule_line) == {"-", " "}
    assert rows[0].split() == ["db", "OperationalError", "retry", "0.910", "40", "150", "ms"]
    assert rows[1].split() == ["payments", "HTTPError@400", "fail_fast", "1.000", "9", "-"]
    assert len(rows) == 3


def test_rules_list_filters_by_policy(pg_app: Flask) -> None:
    """--policy shows only that policy's rules."""
    output = _invoke(pg_app, "rules", "list", "--policy", "payments").output
    assert "HTTPError@503" in output and "HTTPError@400" in output
    assert "OperationalError" not in output


def test_rules_forget_deletes_stored_and_live_rules(pg_app: Flask) -> None:
    """forget NAME empties the table and the live healer for that policy only."""
    healer = _runtime(pg_app).healer
    assert healer is not None
    healer.load(RULES)
    result = _invoke(pg_app, "rules", "forget", "payments")
    assert result.exit_code == 0, result.output
    assert "forgot 2 stored rule(s) of policy 'payments' (2 in this process)" in result.output
    engine = get_state(pg_app).engine
    assert [rule.policy for rule in load_rules(engine)] == ["db"]
    assert [rule.policy for rule in healer.learned_rules()] == ["db"]


def test_rules_forget_all(pg_app: Flask) -> None:
    """forget --all deletes every policy's rules."""
    result = _invoke(pg_app, "rules", "forget", "--all")
    assert "forgot 3 stored rule(s) of every policy" in result.output
    assert load_rules(get_state(pg_app).engine) == []


@pytest.mark.parametrize("args", [[], ["db", "--all"]])
def test_rules_forget_needs_exactly_one_target(pg_app: Flask, args: list[str]) -> None:
    """Neither a NAME nor --all, or both, is a usage error that deletes nothing."""
    result = _invoke(pg_app, "rules", "forget", *args)
    assert result.exit_code == 2
    assert "give a policy NAME or --all" in result.output
    assert len(load_rules(get_state(pg_app).engine)) == 3


def test_stress_prints_a_table(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """The default run (policy stress, degraded, 1000 requests) prints every metric."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, **PRODUCTION})
    result = _invoke(app, "stress")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split() == ["metric", "value"]
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in lines[2:])
    assert rows["policy"] == "stress" and rows["scenario"] == "degraded"
    assert rows["total"] == "1000"
    assert rows["avg response"].endswith(" ms") and rows["system health"].endswith("%")
    assert {"healed", "learned rules", "breaker opens", "failed", "successful"} <= set(rows)


def _stress_json(app: Flask, *args: str) -> dict[str, Any]:
    result = _invoke(app, "stress", "--json", *args)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def test_stress_heals_a_degraded_dependency(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """With the production preset and healing, degraded traffic heals and stays >= 85% healthy."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, **PRODUCTION})
    report = _stress_json(app, "--scenario", "degraded", "--requests", "2000", "--seed", "7")
    assert report["total"] == 2000
    assert report["healed"] > 0
    assert report["system_health"] >= 0.85
    assert report["learned_rules"] >= 1


def test_stress_outage_opens_the_breaker(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """In an outage the breaker opens and most requests are rejected without a dependency call."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, **PRODUCTION})
    report = _stress_json(app, "--scenario", "outage", "--requests", "1000", "--type", "payment")
    assert report["breaker_opens"] > 0
    assert report["rejected"] > 0
    assert report["dependency_calls"] < report["total"]


def test_stress_leaves_the_live_policies_alone(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """A stress run builds no live policy and teaches the live healer nothing."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, **PRODUCTION})
    _stress_json(app, "--requests", "500")
    runtime = _runtime(app)
    assert runtime.built() == [] and runtime.snapshots() == []
    assert runtime.healer is not None and runtime.healer.learned_rules() == []


def test_stress_is_reproducible_with_a_seed(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """The same seed gives the same report; the policy name is the one asked for."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, **PRODUCTION})
    args = ("--policy", "payments", "--scenario", "flapping", "--requests", "300", "--seed", "3")
    first, second = _stress_json(app, *args), _stress_json(app, *args)
    assert first == second
    assert first["policy"] == "payments"


@pytest.mark.parametrize(
    ("option", "value", "listed"),
    [("--scenario", "meltdown", "latency_spike"), ("--type", "email", "database")],
)
def test_stress_rejects_unknown_choices(
    make_app: Callable[..., Flask], sqlite_url: str, option: str, value: str, listed: str
) -> None:
    """An unknown scenario or request type is a usage error listing the valid ones."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    result = _invoke(app, "stress", option, value)
    assert result.exit_code == 2
    assert value in result.output and listed in result.output


@pytest.mark.parametrize("path", [["rules", "list"], ["stress"]])
def test_commands_fail_clearly_without_the_extension(path: list[str]) -> None:
    """On an app without the extension the new commands explain what is missing."""
    result = Flask("bare").test_cli_runner().invoke(resilience_group, path)
    assert result.exit_code == 1
    assert "does not use flask-resilience" in result.output


@pytest.mark.parametrize("path", [["rules"], ["rules", "list"], ["rules", "forget"], ["stress"]])
def test_every_command_has_help(path: list[str]) -> None:
    """Every new command and group prints a description with --help."""
    result = Flask("bare").test_cli_runner().invoke(resilience_group, [*path, "--help"])
    assert result.exit_code == 0
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 15
