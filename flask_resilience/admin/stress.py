"""The admin stress API: start simulated runs of a policy, drive them request by request, drop them.

A run lives in this process's memory (a ``StressRegistry`` per app, in
``state.capabilities["stress_runs"]``), so an operator or a chaos script can ask "what does my
``payments`` policy, with ``max_attempts`` 6, do when the dependency degrades and then goes
down?" step by step, without touching the live breakers, learned rules or metrics. Runs are
bounded: at most ``RESILIENCE_STRESS_MAX_RUNS`` live at once, each reaped an hour after it was
created, so a forgotten run cannot hold memory forever. With several server processes, a run
exists only in the process that created it (see ``docs/stress-testing.md``).
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from .._foundation.clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError
from ..problems import problem_response
from ..resilient.config import CONFIGURABLE, validate_settings
from ..resilient.named import CAPABILITY
from ..resilient.scenarios import REQUEST_TYPES, SCENARIOS, Scenario
from ..resilient.stress import StressRun
from ..state import ResilienceState, get_state

REGISTRY_KEY = "stress_runs"
MAX_RUNS = "RESILIENCE_STRESS_MAX_RUNS"
DEFAULT_MAX_RUNS = 10
MAX_AGE_SECONDS = 3600.0
MAX_REQUESTS = 100_000
"""Cap of ``requests`` in one call: 100,000 simulated requests take about two seconds."""

_CREATE_FIELDS = frozenset(
    {"policy", "scenario", "config", "seed", "requests", "interval_ms", "type"}
)


class StressRunsFull(Exception):
    """Every slot is taken; ``retry_after`` seconds until the oldest run is reaped."""

    def __init__(self, limit: int, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"{limit} stress runs are live already")


class InvalidInput(Exception):
    """A request body the API cannot use; becomes a problem with ``status`` naming ``field``."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        self.status = status
        self.detail = detail
        self.field = field
        super().__init__(detail)


@dataclass
class StressRunEntry:
    """One live run and what it was started with (the API echoes it back)."""

    run_id: str
    run: StressRun
    created: float
    """Registry clock reading at creation (for reaping)."""
    created_at: str
    """Wall-clock creation time, ISO 8601 UTC (for people)."""
    seed: int
    interval_ms: float
    config: dict[str, Any]
    stopped: threading.Event = field(default_factory=threading.Event)


class StressRegistry:
    """The live runs of one app; thread-safe. ``clock`` is injectable so tests can reap.

    >>> from flask_resilience._foundation.clock import ManualClock
    >>> registry = StressRegistry(max_runs=1, clock=ManualClock())
    >>> entry = registry.add(StressRun("steady"), seed=0, interval_ms=1000.0, config={})
    >>> registry.clock.advance(3601)
    >>> registry.get(entry.run_id) is None
    True
    """

    def __init__(
        self, max_runs: int, *, max_age: float = MAX_AGE_SECONDS, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.max_runs = max_runs
        self.max_age = max_age
        self.clock = clock
        self._runs: dict[str, StressRunEntry] = {}
        self._lock = threading.Lock()

    def add(
        self, run: StressRun, *, seed: int, interval_ms: float, config: dict[str, Any]
    ) -> StressRunEntry:
        """Register ``run``; ``StressRunsFull`` when ``max_runs`` are live after reaping."""
        with self._lock:
            now = self._reap()
            if len(self._runs) >= self.max_runs:
                oldest = min(entry.created for entry in self._runs.values())
                raise StressRunsFull(self.max_runs, oldest + self.max_age - now)
            entry = StressRunEntry(
                uuid.uuid4().hex,
                run,
                now,
                datetime.now(UTC).isoformat(timespec="seconds"),
                seed,
                interval_ms,
                config,
            )
            self._runs[entry.run_id] = entry
            return entry

    def get(self, run_id: str) -> StressRunEntry | None:
        with self._lock:
            self._reap()
            return self._runs.get(run_id)

    def entries(self) -> list[StressRunEntry]:
        """Live runs, oldest first."""
        with self._lock:
            self._reap()
            return sorted(self._runs.values(), key=lambda entry: entry.created)

    def remove(self, run_id: str) -> bool:
        """Stop ``run_id`` (a batch in progress ends at its next request) and forget it."""
        with self._lock:
            entry = self._runs.pop(run_id, None)
        if entry is None:
            return False
        entry.stopped.set()
        return True

    def close(self) -> None:
        """Drop every run (``Resilience.close`` calls this)."""
        with self._lock:
            entries, self._runs = list(self._runs.values()), {}
        for entry in entries:
            entry.stopped.set()

    def age(self, entry: StressRunEntry) -> float:
        return self.clock.monotonic() - entry.created

    def _reap(self) -> float:
        now = self.clock.monotonic()
        for run_id, entry in list(self._runs.items()):
            if now - entry.created >= self.max_age:
                del self._runs[run_id]
                entry.stopped.set()
        return now


def init_stress(blueprint: Blueprint, state: ResilienceState) -> None:
    """Create the app's registry and mount the routes on the admin ``blueprint``."""
    max_runs = state.config.integer(MAX_RUNS, DEFAULT_MAX_RUNS, minimum=1, maximum=1000)
    state.capabilities[REGISTRY_KEY] = StressRegistry(max_runs)
    blueprint.add_url_rule("/stress", "stress_runs", _list_runs, methods=["GET"])
    blueprint.add_url_rule("/stress", "stress_create", _create_run, methods=["POST"])
    blueprint.add_url_rule("/stress/<run_id>", "stress_run", _show_run, methods=["GET"])
    blueprint.add_url_rule("/stress/<run_id>", "stress_delete", _delete_run, methods=["DELETE"])
    blueprint.add_url_rule("/stress/<run_id>/process", "stress_process", _process, methods=["POST"])
    blueprint.register_error_handler(InvalidInput, _invalid_input)
    blueprint.register_error_handler(StressRunsFull, _runs_full)


def _registry() -> StressRegistry:
    registry: StressRegistry = get_state().capabilities[REGISTRY_KEY]
    return registry


def _list_runs() -> Response:
    registry = _registry()
    runs = [_view(registry, entry) for entry in registry.entries()]
    return jsonify({"runs": runs, "max_runs": registry.max_runs})


def _create_run() -> Response:
    """Start a run; with ``requests``, process that many at once before answering."""
    body = _json_body()
    unknown = set(body) - _CREATE_FIELDS
    if unknown:
        raise InvalidInput(422, f"unknown field(s) {sorted(unknown)}", sorted(unknown)[0])
    policy = _string(body, "policy", "stress")
    scenario = _scenario(body.get("scenario", "degraded"))
    config = _config(body.get("config", {}))
    seed = _integer(body, "seed", 0, -(2**63), 2**63 - 1)
    requests = _integer(body, "requests", 0, 0, MAX_REQUESTS)
    interval_ms = _number(body, "interval_ms", 1000.0)
    request_type = _request_type(body.get("type", "api_call"), "type")
    run = _build_run(policy, scenario, config, seed, interval_ms)
    registry = _registry()
    entry = registry.add(run, seed=seed, interval_ms=interval_ms, config=config)
    for number in range(requests):
        if entry.stopped.is_set():
            break
        run.process_one(str(number), request_type)
    response = jsonify(_view(registry, entry))
    response.status_code = 201
    response.headers["Location"] = _status_url(entry)
    return response


def _show_run(run_id: str) -> Response:
    registry = _registry()
    return jsonify(_view(registry, _entry(registry, run_id)))


def _delete_run(run_id: str) -> Response:
    if not _registry().remove(run_id):
        raise _unknown_run(run_id)
    return Response(status=204)


def _process(run_id: str) -> Response:
    """Process one request, after switching the scenario when the body gives one."""
    registry = _registry()
    entry = _entry(registry, run_id)
    body = _json_body()
    unknown = set(body) - {"request", "scenario"}
    if unknown:
        raise InvalidInput(422, f"unknown field(s) {sorted(unknown)}", sorted(unknown)[0])
    spec = body.get("request", {})
    if not isinstance(spec, Mapping):
        raise InvalidInput(422, "request must be an object {id, type}", "request")
    request_id = spec.get("id")
    if request_id is not None and (
        isinstance(request_id, bool) or not isinstance(request_id, str | int)
    ):
        raise InvalidInput(422, "request.id must be a string or an integer", "request.id")
    request_type = _request_type(spec.get("type", "api_call"), "request.type")
    if "scenario" in body:
        entry.run.scenario = _scenario(body["scenario"])
    outcome = entry.run.process_one(request_id, request_type)
    return jsonify({"outcome": outcome.as_dict(), **_view(registry, entry)})


def _view(registry: StressRegistry, entry: StressRunEntry) -> dict[str, Any]:
    """The report of the run so far, with what it was started with."""
    run = entry.run
    return {
        **run.report().as_dict(),
        "run_id": entry.run_id,
        "status_url": _status_url(entry),
        "created_at": entry.created_at,
        "age_seconds": round(registry.age(entry), 3),
        "scenario": run.scenario.as_dict(),
        "seed": entry.seed,
        "interval_ms": entry.interval_ms,
        "config": entry.config,
    }


def _build_run(
    policy: str, scenario: Scenario, config: dict[str, Any], seed: int, interval_ms: float
) -> StressRun:
    """The run of ``policy`` as configured here with ``config`` on top; 422 when they clash."""
    runtime = get_state().capabilities[CAPABILITY]
    try:
        return StressRun(
            scenario,
            policy_factory=runtime.simulation_factory(seed=seed, overrides=config),
            policy_name=policy,
            seed=seed,
            interval_ms=interval_ms,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(422, f"config does not make a valid policy: {exc}", "config") from exc


def _json_body() -> dict[str, Any]:
    """The body as a JSON object; empty means ``{}``. 400 for broken JSON, 422 for a non-object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(400, f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput(422, "the body must be a JSON object")
    return body


def _scenario(value: object) -> Scenario:
    if isinstance(value, str):
        scenario = SCENARIOS.get(value)
        if scenario is None:
            raise InvalidInput(
                422, f"unknown scenario {value!r}; built-in: {list(SCENARIOS)}", "scenario"
            )
        return scenario
    if not isinstance(value, Mapping):
        raise InvalidInput(422, "scenario must be a built-in name or an object", "scenario")
    try:
        return Scenario.from_dict(value)
    except ValueError as exc:
        raise InvalidInput(422, str(exc), "scenario") from exc


def _config(value: object) -> dict[str, Any]:
    """Policy settings for this run only; each one validated alone so the error names it."""
    if not isinstance(value, Mapping):
        raise InvalidInput(422, "config must be an object of policy settings", "config")
    for key, setting in value.items():
        name = f"config.{key}"
        if key not in CONFIGURABLE:
            raise InvalidInput(
                422, f"unknown setting {key!r}; settable: {sorted(CONFIGURABLE)}", name
            )
        try:
            validate_settings(name, {key: setting})
        except ConfigurationError as exc:
            raise InvalidInput(422, str(exc), name) from exc
    return dict(value)


def _request_type(value: object, name: str) -> str:
    if not isinstance(value, str) or value not in REQUEST_TYPES:
        raise InvalidInput(
            422, f"unknown request type {value!r}; known: {list(REQUEST_TYPES)}", name
        )
    return value


def _string(body: Mapping[str, Any], name: str, default: str) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidInput(422, f"{name} must be a non-empty string of <= 200 characters", name)
    return value


def _integer(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(422, f"{name} must be an integer within [{low}, {high}]", name)
    return value


def _number(body: Mapping[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid or not math.isfinite(value) or value < 0:
        raise InvalidInput(422, f"{name} must be a finite number >= 0", name)
    return float(value)


def _entry(registry: StressRegistry, run_id: str) -> StressRunEntry:
    entry = registry.get(run_id)
    if entry is None:
        raise _unknown_run(run_id)
    return entry


def _unknown_run(run_id: str) -> InvalidInput:
    return InvalidInput(
        404, f"no live stress run {run_id!r} (runs are reaped an hour after they start)"
    )


def _status_url(entry: StressRunEntry) -> str:
    return url_for("resilience_admin.stress_run", run_id=entry.run_id)


def _invalid_input(exc: InvalidInput) -> Response:
    extra: dict[str, Any] = {"field": exc.field} if exc.field is not None else {}
    return problem_response(exc.status, detail=exc.detail, **extra)


def _runs_full(exc: StressRunsFull) -> Response:
    retry_after = max(1, math.ceil(exc.retry_after))
    return problem_response(
        429,
        detail=f"{exc.limit} stress runs are live already ({MAX_RUNS}); "
        "DELETE one or wait until the oldest is reaped",
        headers={"Retry-After": str(retry_after)},
        max_runs=exc.limit,
    )
