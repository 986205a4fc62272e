"""Chaos scenarios and the simulated dependency the stress harness calls through a policy.

A scenario says how often the dependency fails and how slow it is; ``schedule`` makes the
failure rate change with the call count (cyclic phases), which is how ``flapping`` alternates.
The dependency advances a ``ManualClock`` instead of sleeping, so 10,000 calls take a second.

>>> import random
>>> from flask_resilience._foundation.clock import ManualClock
>>> clock = ManualClock()
>>> dependency = SimulatedDependency(SCENARIOS["steady"], random.Random(0), clock)
>>> dependency("database"), 0 < clock.monotonic() < 0.1
('ok', True)
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .._foundation.clock import ManualClock

REQUEST_TYPES: dict[str, float] = {"api_call": 1.0, "database": 0.5, "payment": 2.0}
"""Request types and their latency relative to the scenario's average."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """How a simulated dependency misbehaves.

    ``schedule`` is a cycle of ``(calls, failure_rate)`` phases that overrides ``failure_rate``:

    >>> flapping = Scenario("flapping", 0.45, 100, schedule=((50, 0.0), (50, 0.9)))
    >>> flapping.failure_rate_at(49), flapping.failure_rate_at(50), flapping.failure_rate_at(100)
    (0.0, 0.9, 0.0)
    """

    name: str
    failure_rate: float
    avg_latency_ms: float
    description: str = ""
    schedule: tuple[tuple[int, float], ...] | None = None

    def __post_init__(self) -> None:
        rates = [self.failure_rate, *(rate for _, rate in self.schedule or ())]
        if not all(0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError(f"scenario {self.name!r}: failure rates must be within [0, 1]")
        if self.avg_latency_ms < 0:
            raise ValueError(f"scenario {self.name!r}: avg_latency_ms must be >= 0")
        if self.schedule is not None and not all(calls >= 1 for calls, _ in self.schedule):
            raise ValueError(f"scenario {self.name!r}: every phase needs >= 1 call")

    def failure_rate_at(self, call_index: int) -> float:
        """The failure rate of the ``call_index``-th call (0-based) to the dependency."""
        if not self.schedule:
            return self.failure_rate
        position = call_index % sum(calls for calls, _ in self.schedule)
        for calls, rate in self.schedule:
            if position < calls:
                return rate
            position -= calls
        return self.failure_rate  # unreachable: position < the cycle length

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build from JSON (the admin API); a built-in ``name`` alone picks that scenario.

        >>> Scenario.from_dict({"name": "outage"}).failure_rate
        0.95
        >>> Scenario.from_dict({"name": "mine", "failure_rate": 0.5, "avg_latency_ms": 20}).name
        'mine'
        """
        name = str(data.get("name", "custom"))
        base = SCENARIOS.get(name)
        if base is not None and set(data) <= {"name"}:
            return base
        schedule = data.get("schedule")
        try:
            return cls(
                name,
                float(data.get("failure_rate", base.failure_rate if base else 0.0)),
                float(data.get("avg_latency_ms", base.avg_latency_ms if base else 50.0)),
                str(data.get("description", base.description if base else "")),
                tuple((int(calls), float(rate)) for calls, rate in schedule) if schedule else None,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid scenario {dict(data)!r}: {exc}") from exc

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, the inverse of ``from_dict``."""
        data = asdict(self)
        data["schedule"] = [list(phase) for phase in self.schedule] if self.schedule else None
        return data


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("steady", 0.02, 50, "A healthy dependency with the odd blip."),
        Scenario("degraded", 0.30, 150, "Overloaded: slow, and almost a third of calls fail."),
        Scenario("latency_spike", 0.05, 800, "Mostly answering, but very slowly."),
        Scenario(
            "flapping",
            0.45,
            100,
            "Healthy for 50 calls, then 90% failures for 50 calls, and again.",
            schedule=((50, 0.0), (50, 0.9)),
        ),
        Scenario("outage", 0.95, 100, "Down: almost every call fails."),
    )
}
"""The five built-in scenarios, by name."""


class SimulatedFailure(Exception):
    """What the simulated dependency raises: an HTTP-like error with a ``status_code``."""

    def __init__(self, status_code: int = 503, message: str = "service unavailable") -> None:
        self.status_code = status_code
        super().__init__(f"{status_code} {message}")


class SimulatedDependency:
    """A dependency that follows ``scenario``, taking time on ``clock`` instead of real time.

    ``calls`` and ``failures`` count invocations, so tests can prove a rejected call never
    reached it. Assign ``scenario`` to change behaviour mid-run (an outage ending). A schedule's
    phases count ``request_index`` when set (``StressRun`` sets it: a flapping dependency flaps
    with time, however rarely an open breaker lets calls through), else the calls made.
    """

    def __init__(self, scenario: Scenario, rng: random.Random, clock: ManualClock) -> None:
        self.scenario = scenario
        self.calls = 0
        self.failures = 0
        self.request_index: int | None = None
        self._rng = rng
        self._clock = clock

    def __call__(self, request_type: str = "api_call") -> str:
        """Take a latency drawn uniformly within +-50% of the average, then fail or answer."""
        factor = REQUEST_TYPES.get(request_type)
        if factor is None:
            raise ValueError(f"unknown request type {request_type!r}; known: {list(REQUEST_TYPES)}")
        index, self.calls = self.calls, self.calls + 1
        scenario = self.scenario
        latency_ms = scenario.avg_latency_ms * factor * self._rng.uniform(0.5, 1.5)
        self._clock.advance(latency_ms / 1000)
        if self.request_index is not None:
            index = self.request_index
        if self._rng.random() < scenario.failure_rate_at(index):
            self.failures += 1
            raise SimulatedFailure(503)
        return "ok"
