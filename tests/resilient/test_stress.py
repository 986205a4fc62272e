"""The stress-test harness: scenarios, the simulated dependency and runs through policies."""

from __future__ import annotations

import random
import time

import pytest

from flask_resilience._foundation.clock import ManualClock
from flask_resilience._foundation.presets import PRESETS
from flask_resilience.resilient import Policy, Retry
from flask_resilience.resilient.healer import signature_of
from flask_resilience.resilient.scenarios import (
    SCENARIOS,
    Scenario,
    SimulatedDependency,
    SimulatedFailure,
)
from flask_resilience.resilient.store import CLOSED, HALF_OPEN, OPEN
from flask_resilience.resilient.stress import StressRun, preset_policy_factory


def test_the_five_built_in_scenarios() -> None:
    """steady, degraded, latency_spike, flapping and outage have the documented numbers."""
    numbers = {name: (s.failure_rate, s.avg_latency_ms) for name, s in SCENARIOS.items()}
    assert numbers == {
        "steady": (0.02, 50),
        "degraded": (0.30, 150),
        "latency_spike": (0.05, 800),
        "flapping": (0.45, 100),
        "outage": (0.95, 100),
    }
    flapping = SCENARIOS["flapping"]
    rates = [flapping.failure_rate_at(i) for i in (0, 49, 50, 99, 100, 150)]
    assert rates == [0.0, 0.0, 0.9, 0.9, 0.0, 0.9]


def test_scenarios_from_json() -> None:
    """from_dict picks a built-in by name, builds custom ones and rejects bad numbers."""
    assert Scenario.from_dict({"name": "outage"}) is SCENARIOS["outage"]
    custom = Scenario.from_dict({"name": "x", "failure_rate": 0.5, "schedule": [[10, 1.0]]})
    assert custom.failure_rate_at(3) == 1.0
    assert Scenario.from_dict(custom.as_dict()) == custom
    with pytest.raises(ValueError, match="within"):
        Scenario.from_dict({"name": "bad", "failure_rate": 2})


def test_the_dependency_fails_with_an_http_status_and_takes_simulated_time() -> None:
    """Failures carry 503, latency lands on the manual clock and calls are counted."""
    clock = ManualClock()
    dependency = SimulatedDependency(SCENARIOS["outage"], random.Random(0), clock)
    failures = []
    for _ in range(200):
        try:
            dependency("payment")
        except SimulatedFailure as exc:
            failures.append(exc)
    assert dependency.calls == 200 and 180 <= len(failures) <= 200
    assert signature_of("p", failures[0]).http_status == 503
    assert clock.monotonic() == pytest.approx(200 * 0.2, rel=0.1)  # payment: 2x the average


def test_request_types_have_their_own_latency() -> None:
    """Payments are slower than API calls, database reads faster; unknown types are refused."""
    run = StressRun("steady", interval_ms=0)
    average = {
        kind: sum(run.process_one(i, kind).response_ms for i in range(200)) / 200
        for kind in ("database", "api_call", "payment")
    }
    assert average["database"] < average["api_call"] < average["payment"]
    with pytest.raises(ValueError, match="unknown request type"):
        run.process_one(1, "teleport")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_degraded_scenario_is_healed_with_the_production_preset(seed: int) -> None:
    """On degraded, with production settings, calls are healed and health stays >= 0.85."""
    report = StressRun("degraded", preset=PRESETS["production"], seed=seed).run(1000)
    assert report.total == 1000 and report.healed > 0
    assert report.system_health >= 0.85
    assert report.learned_rules >= 1
    assert report.successful + report.failed == report.total


def test_outage_opens_the_breaker_and_rejects_without_touching_the_dependency() -> None:
    """In an outage the breaker opens and the calls it rejects cost nothing and call nothing."""
    run = StressRun("outage", seed=1)
    report = run.run(100)
    assert report.breaker_opens >= 1 and report.rejected > 50
    events_before, calls_before = len(run.breaker_events), run.dependency.calls
    outcomes = [run.process_one(i) for i in range(100, 200)]
    probes = [e for e in run.breaker_events[events_before:] if e.state is HALF_OPEN]
    touched = [o for o in outcomes if o.dependency_calls]
    # Only the half-open probes reach the dependency, one call each; the rest cost nothing.
    assert len(touched) == len(probes) < 20
    assert all(o.dependency_calls == 1 for o in touched)
    assert all(o.rejected and o.response_ms == 0.0 for o in outcomes if not o.dependency_calls)
    assert run.dependency.calls - calls_before == len(probes)


def test_half_open_probes_close_the_breaker_after_the_outage() -> None:
    """Once the outage ends, the next half-open probe succeeds and the breaker closes again."""
    run = StressRun("outage", seed=2)
    run.run(50)
    assert run.policy.breaker is not None and run.policy.breaker.state is not CLOSED
    run.scenario = "steady"
    outcomes = [run.process_one(i) for i in range(50, 80)]
    assert run.report().breaker_state == "closed"
    transitions = [(e.previous, e.state) for e in run.breaker_events]
    assert transitions[-1] == (HALF_OPEN, CLOSED)
    assert (CLOSED, OPEN) in transitions
    assert sum(o.success for o in outcomes[-10:]) >= 9


def test_ten_thousand_calls_take_seconds_not_hours() -> None:
    """The simulated clock makes a 10,000-request run fast in real time."""
    started = time.perf_counter()
    report = StressRun("latency_spike", seed=5).run(10_000)
    assert time.perf_counter() - started < 5.0
    assert report.total == 10_000 and report.avg_response_ms > 500


def test_a_custom_policy_factory_is_used() -> None:
    """The lead's Flask-configured policy can be plugged in through policy_factory."""
    built: list[str] = []

    def factory(name: str, clock: ManualClock) -> Policy:
        built.append(name)
        return Policy(name, retry=Retry(name=name, max_attempts=3, clock=clock))

    run = StressRun("degraded", policy_factory=factory, policy_name="payments", seed=3)
    report = run.run(300)
    assert built == ["payments"] and run.healer is None
    assert report.learned_rules == 0 and report.breaker_state is None and report.healed > 0


def test_report_table_and_dict() -> None:
    """The report renders as a table for the CLI and a dict for the admin API."""
    run = StressRun("flapping", preset=PRESETS["development"], seed=4)
    report = run.run(400)
    data = report.as_dict()
    assert set(data) >= {
        "total",
        "successful",
        "failed",
        "healed",
        "avg_response_ms",
        "system_health",
        "learned_rules",
        "breaker_opens",
        "rejected",
    }
    table = report.format_table()
    for label in ("total", "successful", "healed", "system health", "breaker opens"):
        assert label in table
    assert "400" in table
    outcome = run.process_one("req-1", "database").as_dict()
    assert outcome["request_id"] == "req-1" and outcome["request_type"] == "database"


def test_unknown_scenario_is_refused() -> None:
    """A scenario name that is not built in raises ValueError listing the built-ins."""
    with pytest.raises(ValueError, match="degraded"):
        StressRun("meltdown")


def test_preset_factory_maps_the_preset() -> None:
    """max_attempts = max_retries + 1, breaker threshold and reset timeout from the preset."""
    preset = PRESETS["staging"]
    policy = preset_policy_factory(preset)("s", ManualClock())
    assert policy.retry is not None and policy.retry.max_attempts == preset.max_retries + 1
    assert policy.breaker is not None
    assert policy.breaker.config.failure_threshold == preset.breaker_failure_threshold
    assert policy.breaker.config.reset_timeout == preset.breaker_reset_timeout_ms / 1000
