"""The stress-test harness: run simulated requests through a policy and report how it coped.

Everything runs on a ``ManualClock``: the dependency's latency and the policy's backoff waits
advance simulated time, so 10,000 requests take a second or two of real time while breakers
still see their reset timeouts elapse. Requests arrive every ``interval_ms`` of simulated time
(a paced client; a request that takes longer delays the next), which is also how time passes
while an open breaker rejects calls at no cost.

>>> run = StressRun("degraded", seed=1)
>>> report = run.run(200)
>>> report.total, report.healed > 0
(200, True)
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

from .._foundation.clock import ManualClock
from .._foundation.presets import PRESETS, EnginePreset
from ..errors import CallRejectedError
from .breaker import CircuitBreaker
from .config import make_healer
from .healer import Healer
from .healing_retry import HealingRetry
from .policy import Policy
from .retry import Retry
from .scenarios import REQUEST_TYPES, SCENARIOS, Scenario, SimulatedDependency
from .store import OPEN, BreakerEvent

PolicyFactory = Callable[[str, ManualClock], Policy]
"""Builds the policy under test: ``factory(name, clock)``; it must use ``clock`` for time."""


def preset_policy_factory(preset: EnginePreset, *, seed: int = 0) -> PolicyFactory:
    """A factory for ``breaker(healing retry)`` tuned by an environment preset.

    ``max_attempts = max_retries + 1``; the breaker opens after ``breaker_failure_threshold``
    consecutive failures (or 50% of the last 100 attempts) and probes after
    ``breaker_reset_timeout_ms``; the healer takes the preset's learning parameters.

    >>> policy = preset_policy_factory(PRESETS["development"])("demo", ManualClock())
    >>> policy.retry.max_attempts, policy.breaker.config.failure_threshold
    (3, 2)
    """

    def build(name: str, clock: ManualClock) -> Policy:
        healer = make_healer(preset, seed=seed, clock=clock)
        breaker = CircuitBreaker(
            name=name,
            failure_threshold=preset.breaker_failure_threshold,
            reset_timeout=preset.breaker_reset_timeout_ms / 1000,
            clock=clock,
        )
        retry = HealingRetry(
            name=name,
            healer=healer,
            max_attempts=preset.max_retries + 1,
            clock=clock,
            inner_layers=1,  # the breaker sits between this layer and the dependency
        )
        # Policy types its retry slot as Retry; HealingRetry has the same call protocol.
        return Policy(name, retry=cast(Retry, retry), breaker=breaker)

    return build


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """How one simulated request went (``healed``: it succeeded after a failed attempt)."""

    request_id: str
    request_type: str
    success: bool
    healed: bool
    rejected: bool
    response_ms: float
    dependency_calls: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StressReport:
    """The totals of a run; ``system_health`` is successful / total (1.0 for an empty run)."""

    policy: str
    scenario: str
    total: int
    successful: int
    failed: int
    healed: int
    rejected: int
    avg_response_ms: float
    system_health: float
    learned_rules: int
    breaker_opens: int
    breaker_state: str | None
    dependency_calls: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the admin API."""
        return asdict(self)

    def format_table(self) -> str:
        """A two-column table for the CLI."""
        rows = [
            ("policy", self.policy),
            ("scenario", self.scenario),
            ("total", str(self.total)),
            ("successful", str(self.successful)),
            ("failed", str(self.failed)),
            ("healed", str(self.healed)),
            ("rejected", str(self.rejected)),
            ("avg response", f"{self.avg_response_ms:.1f} ms"),
            ("system health", f"{self.system_health:.1%}"),
            ("learned rules", str(self.learned_rules)),
            ("breaker opens", str(self.breaker_opens)),
            ("breaker state", self.breaker_state or "-"),
            ("dependency calls", str(self.dependency_calls)),
        ]
        width = max(len(label) for label, _ in rows)
        lines = [f"{'metric'.ljust(width)}  value", f"{'-' * width}  {'-' * 12}"]
        lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
        return "\n".join(lines)


class StressRun:
    """Simulated requests through one policy, on one simulated clock; see the module docstring.

    Use ``run(n)`` for a batch or ``process_one(id, type)`` step by step (the admin API).
    Assign ``scenario`` to change the dependency's behaviour mid-run. Requests are processed
    one at a time (a lock), since they share one clock.
    """

    def __init__(
        self,
        scenario: Scenario | str = "steady",
        *,
        policy_factory: PolicyFactory | None = None,
        preset: EnginePreset | None = None,
        policy_name: str = "stress",
        seed: int = 0,
        interval_ms: float = 1000.0,
    ) -> None:
        if interval_ms < 0:
            raise ValueError(f"interval_ms must be >= 0, got {interval_ms!r}")
        self.clock = ManualClock()
        self.dependency = SimulatedDependency(_scenario(scenario), random.Random(seed), self.clock)
        factory = policy_factory or preset_policy_factory(
            preset or PRESETS["production"], seed=seed
        )
        self.policy = factory(policy_name, self.clock)
        self.interval = interval_ms / 1000
        self.breaker_events: list[BreakerEvent] = []
        if self.policy.breaker is not None:
            self.policy.breaker.add_listener(self.breaker_events.append)
        self._lock = threading.Lock()
        self._next_arrival = 0.0
        self._total = self._successful = self._healed = self._rejected = 0
        self._elapsed = 0.0

    @property
    def scenario(self) -> Scenario:
        """The dependency's current behaviour."""
        return self.dependency.scenario

    @scenario.setter
    def scenario(self, scenario: Scenario | str) -> None:
        self.dependency.scenario = _scenario(scenario)

    @property
    def healer(self) -> Healer | None:
        """The policy's healer, when its retry layer is a ``HealingRetry``."""
        healer = getattr(self.policy.retry, "healer", None)
        return healer if isinstance(healer, Healer) else None

    def run(self, requests: int, request_type: str = "api_call") -> StressReport:
        """Process ``requests`` more requests and return the report of the whole run so far."""
        start = self._total
        for number in range(start, start + requests):
            self.process_one(str(number), request_type)
        return self.report()

    def process_one(
        self, request_id: str | int | None = None, request_type: str = "api_call"
    ) -> RequestOutcome:
        """Process one request of ``request_type`` (``api_call``, ``database``, ``payment``)."""
        if request_type not in REQUEST_TYPES:
            raise ValueError(f"unknown request type {request_type!r}; known: {list(REQUEST_TYPES)}")
        with self._lock:
            clock, dependency = self.clock, self.dependency
            now = clock.monotonic()
            if self._next_arrival > now:
                clock.advance(self._next_arrival - now)
            start, calls, failures = clock.monotonic(), dependency.calls, dependency.failures
            self._next_arrival = start + self.interval
            index = dependency.request_index = self._total
            error: BaseException | None = None
            try:
                self.policy.call(dependency, request_type)
            except Exception as exc:
                error = exc
            elapsed_ms = (clock.monotonic() - start) * 1000
            healed = error is None and dependency.failures > failures
            rejected = isinstance(error, CallRejectedError)
            self._count(error is None, healed, rejected, elapsed_ms)
            return RequestOutcome(
                str(request_id if request_id is not None else index),
                request_type,
                error is None,
                healed,
                rejected,
                elapsed_ms,
                dependency.calls - calls,
                None if error is None else f"{type(error).__name__}: {error}",
            )

    def report(self) -> StressReport:
        """The totals so far."""
        with self._lock:
            total, successful = self._total, self._successful
            healer = self.healer
            breaker = self.policy.breaker
            return StressReport(
                policy=self.policy.name,
                scenario=self.scenario.name,
                total=total,
                successful=successful,
                failed=total - successful,
                healed=self._healed,
                rejected=self._rejected,
                avg_response_ms=self._elapsed / total if total else 0.0,
                system_health=successful / total if total else 1.0,
                learned_rules=len(healer.learned_rules()) if healer is not None else 0,
                breaker_opens=sum(1 for event in self.breaker_events if event.state is OPEN),
                breaker_state=breaker.state.value if breaker is not None else None,
                dependency_calls=self.dependency.calls,
            )

    def _count(self, success: bool, healed: bool, rejected: bool, elapsed_ms: float) -> None:
        self._total += 1
        self._successful += success
        self._healed += healed
        self._rejected += rejected
        self._elapsed += elapsed_ms


def _scenario(scenario: Scenario | str) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    try:
        return SCENARIOS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {scenario!r}; built-in: {list(SCENARIOS)}") from None
