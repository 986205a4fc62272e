"""Observability: health and readiness probes; metrics and structured logs subscribe to signals."""

from __future__ import annotations

from flask import Flask

from .._foundation.settings import METRICS_ENABLED
from ..state import ResilienceState
from .health import HEALTH_ENABLED, database_check, health_blueprint, redis_check
from .logs import log_breaker_event, log_healing_event
from .metrics import init_metrics
from .request_id import init_request_ids


def init_app(app: Flask, state: ResilienceState) -> None:
    """Register the database and Redis readiness checks and, unless disabled, the probe routes."""
    state.readiness_checks.setdefault("database", database_check(state))
    state.readiness_checks.setdefault("redis", redis_check(state))
    init_request_ids(app)
    if state.config.boolean(HEALTH_ENABLED, True):
        app.register_blueprint(health_blueprint())
    if state.config.boolean(METRICS_ENABLED, True):
        state.capabilities["metrics"] = init_metrics(app, state)
    runtime = state.capabilities["resilient"]
    runtime.registry.add_listener(log_breaker_event)
    if runtime.healer is not None:
        runtime.healer.add_listener(log_healing_event)


__all__ = ["init_app"]
