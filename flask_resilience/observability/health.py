"""Liveness (``/healthz``) and readiness (``/readyz``) probes.

Liveness says only that the process answers; a load balancer should restart it when it does not.
Readiness runs every registered check: a failed *critical* check (database unreachable, migrations
behind head) makes the instance ``unavailable`` (503) so it leaves the pool; a failed non-critical
check (Redis, workers) makes it ``degraded`` (200), because a shared dependency's outage must not
pull every instance out of the load balancer at once.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from ..state import CheckResult, ReadinessCheck, ResilienceState, get_state

HEALTH_ENABLED = "RESILIENCE_HEALTH_ENABLED"


def health_blueprint() -> Blueprint:
    """The probe routes, at the app root where orchestrators look for them."""
    blueprint = Blueprint("resilience_health", __name__)
    blueprint.add_url_rule("/healthz", "healthz", _healthz)
    blueprint.add_url_rule("/readyz", "readyz", _readyz)
    return blueprint


def _healthz() -> Response:
    return jsonify(status="ok")


def _readyz() -> tuple[Response, int]:
    results = {name: _run(check) for name, check in get_state().readiness_checks.items()}
    if any(not r.ok and r.critical for r in results.values()):
        status, code = "unavailable", 503
    elif any(not r.ok for r in results.values()):
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    body: dict[str, Any] = {
        "status": status,
        "checks": {name: result.as_json() for name, result in results.items()},
    }
    return jsonify(body), code


def _run(check: ReadinessCheck) -> CheckResult:
    """A check that raises is a failed critical check, reported by its error type only."""
    try:
        return check()
    except Exception as exc:
        return CheckResult(ok=False, critical=True, detail=f"check raised {type(exc).__name__}")


def database_check(state: ResilienceState) -> ReadinessCheck:
    """``SELECT 1`` on the extension's engine; critical."""

    def check() -> CheckResult:
        started = time.perf_counter()
        try:
            with state.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            return CheckResult(False, True, _ms(started), f"unreachable: {type(exc).__name__}")
        return CheckResult(True, True, _ms(started))

    return check


def redis_check(state: ResilienceState) -> ReadinessCheck:
    """``PING`` on the app's Redis; not critical (the call path degrades without it)."""

    def check() -> CheckResult:
        started = time.perf_counter()
        try:
            state.redis.ping()
        except Exception as exc:
            return CheckResult(False, False, _ms(started), f"unreachable: {type(exc).__name__}")
        detail = "embedded (fakeredis)" if state.settings.embedded else None
        return CheckResult(True, False, _ms(started), detail)

    return check


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
