"""``flask resilience rules ...`` and ``flask resilience stress``: operate the resilient capability.

``rules`` shows and resets what the healer learned (the ``resilience_learned_rules`` table that
the whole fleet loads at start); ``stress`` runs simulated traffic through a policy, as it is
configured for this app, without touching its live breakers, rules or metrics.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..state import ResilienceState, get_state
from .healer import LearnedRuleData
from .named import CAPABILITY
from .rules import TABLE, forget_rules, load_rules
from .runtime import PolicyRuntime
from .scenarios import REQUEST_TYPES, SCENARIOS
from .stress import StressRun

rules_group = AppGroup(
    "rules", help="Show or reset the healing rules learned by the fleet (stored in the database)."
)

_COLUMNS = ("policy", "signature", "strategy", "score", "observations", "base backoff")


def _state() -> ResilienceState:
    """The current app's state, with the same clear error as every other command."""
    # The root CLI module imports this one to assemble its groups, so import it late.
    from ..cli import _app

    return get_state(_app())


def _runtime(state: ResilienceState) -> PolicyRuntime:
    runtime: PolicyRuntime = state.capabilities[CAPABILITY]
    return runtime


def _require_table(engine: Engine) -> None:
    """Fail with the fix when the database is unreachable or not migrated yet."""
    try:
        present = inspect(engine).has_table(TABLE.name)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from exc
    if not present:
        raise click.ClickException(
            f"the table {TABLE.name} does not exist: run `flask resilience db upgrade` first"
        )


@rules_group.command("list")
@click.option("--policy", metavar="NAME", help="Only the rules of this policy.")
def rules_list(policy: str | None) -> None:
    """List the learned rules (signature -> strategy) that every process loads at start."""
    state = _state()
    _require_table(state.engine)
    rules = load_rules(state.engine, policy)
    if not rules:
        where = f" for policy {policy!r}" if policy else ""
        click.echo(f"no learned rules{where} yet")
        return
    click.echo(format_rules(rules))


def format_rules(rules: list[LearnedRuleData]) -> str:
    """An aligned text table, one rule a line."""
    rows = [
        (
            rule.policy,
            rule.signature.key,
            rule.strategy,
            f"{rule.score:.3f}",
            str(rule.observations),
            "-" if rule.base_backoff_ms is None else f"{rule.base_backoff_ms} ms",
        )
        for rule in rules
    ]
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [_COLUMNS, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


@rules_group.command("forget")
@click.argument("name", required=False)
@click.option("--all", "everything", is_flag=True, help="Forget the rules of every policy.")
def rules_forget(name: str | None, everything: bool) -> None:
    """Delete the learned rules of policy NAME (or --all) from the database and this process.

    Other running processes keep the rules they hold in memory (and may save them again when
    they retune them): restart them to start from zero.
    """
    if (name is None) == (not everything):
        raise click.UsageError("give a policy NAME or --all, not both and not neither")
    state = _state()
    _require_table(state.engine)
    stored = forget_rules(state.engine, name)
    healer = _runtime(state).healer
    in_memory = healer.forget(name) if healer is not None else 0
    target = "every policy" if name is None else f"policy {name!r}"
    click.echo(f"forgot {stored} stored rule(s) of {target} ({in_memory} in this process)")


@click.command("stress")
@with_appcontext
@click.option("--policy", default="stress", show_default=True, help="Policy name to configure.")
@click.option(
    "--scenario",
    type=click.Choice(list(SCENARIOS)),
    default="degraded",
    show_default=True,
    help="How the simulated dependency misbehaves.",
)
@click.option(
    "--requests",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="How many requests to simulate.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option(
    "--interval-ms",
    type=click.FloatRange(min=0),
    default=1000.0,
    show_default=True,
    help="Simulated time between request arrivals.",
)
@click.option(
    "--type",
    "request_type",
    type=click.Choice(list(REQUEST_TYPES)),
    default="api_call",
    show_default=True,
    help="Request type (scales the latency).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def stress_command(
    policy: str,
    scenario: str,
    requests: int,
    seed: int,
    interval_ms: float,
    request_type: str,
    as_json: bool,
) -> None:
    """Run simulated requests through a policy as configured here and print how it coped.

    The policy gets this app's settings (RESILIENCE_ENV preset, RESILIENCE_POLICIES) on a
    simulated clock with its own breaker and healer, so thousands of requests take a second
    and the live breakers, learned rules and metrics stay untouched.
    """
    runtime = _runtime(_state())
    run = StressRun(
        scenario,
        policy_factory=runtime.simulation_factory(seed=seed),
        policy_name=policy,
        seed=seed,
        interval_ms=interval_ms,
    )
    report = run.run(requests, request_type)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(report.format_table())


__all__ = ["format_rules", "rules_group", "stress_command"]
