"""Prometheus metrics: HTTP metrics from prometheus-flask-exporter plus the extension's own.

Each app gets its own ``CollectorRegistry``, so several apps (or a test suite) in one process
never collide on metric names. The extension's metrics are read at scrape time from counters the
capabilities keep anyway, so the call path pays nothing for them. Names are prefixed
``resilience_``; HTTP metrics are grouped by URL rule, never by raw path, to bound cardinality.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_flask_exporter import PrometheusMetrics

from ..resilient.stats import DURATION_BUCKETS
from ..resilient.store import BreakerEvent, BreakerState
from ..state import ResilienceState
from .cache_metrics import register_cache_metrics
from .jobs_metrics import register_jobs_metrics
from .ratelimit_metrics import RateLimitCollector

METRICS_PATH = "RESILIENCE_METRICS_PATH"
HEALTH_WINDOW_SECONDS = 300.0
STATES = (BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN)


class ResilienceCollector:
    """Reads the resilient runtime of one app at scrape time."""

    def __init__(self, state: ResilienceState, *, window: float = HEALTH_WINDOW_SECONDS) -> None:
        self._state = state
        self._window = window
        self._lock = threading.Lock()
        self._transitions: dict[tuple[str, str, str], int] = {}
        self._history: deque[tuple[float, int, int]] = deque()

    def on_breaker_event(self, event: BreakerEvent) -> None:
        """Count a state change (registered as a breaker-registry listener)."""
        key = (event.name, event.previous.value, event.state.value)
        with self._lock:
            self._transitions[key] = self._transitions.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        runtime = self._state.capabilities["resilient"]
        snapshots = {name: stats.snapshot() for name, stats in runtime.stats.items()}
        retry_counts = runtime.retry_counts()
        yield from self._calls(snapshots, retry_counts)
        yield from self._breakers(runtime)
        yield from self._healing(runtime)
        yield self._health(snapshots)

    def _calls(self, snapshots: dict[str, Any], retry_counts: dict[str, Any]) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "resilience_calls", "Calls through a policy by outcome.", labels=["policy", "outcome"]
        )
        retries = CounterMetricFamily(
            "resilience_retries", "Retry attempts made by a policy.", labels=["policy"]
        )
        duration = HistogramMetricFamily(
            "resilience_call_duration_seconds",
            "Duration of calls through a policy, retries included.",
            labels=["policy"],
        )
        for name, snap in sorted(snapshots.items()):
            retried, healed = retry_counts.get(name, (0, 0))
            for outcome, value in (
                ("success", snap.successes - healed),
                ("healed", healed),
                ("failure", snap.failures),
                ("rejected", snap.rejected),
            ):
                calls.add_metric([name, outcome], value)
            retries.add_metric([name], retried)
            duration.add_metric([name], _cumulative(snap.buckets), snap.duration_sum)
        yield from (calls, retries, duration)

    def _breakers(self, runtime: Any) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "resilience_breaker_state",
            "1 for the current state of each circuit breaker.",
            labels=["policy", "state"],
        )
        for snapshot in runtime.snapshots():
            for state in STATES:
                gauge.add_metric([snapshot.name, state.value], float(snapshot.state == state))
        transitions = CounterMetricFamily(
            "resilience_breaker_transitions",
            "Circuit breaker state changes.",
            labels=["policy", "from_state", "to_state"],
        )
        with self._lock:
            for (name, previous, current), count in sorted(self._transitions.items()):
                transitions.add_metric([name, previous, current], count)
        yield from (gauge, transitions)

    def _healing(self, runtime: Any) -> Iterator[Metric]:
        rules = GaugeMetricFamily(
            "resilience_learned_rules", "Healing rules the adaptive healer has learned."
        )
        healer = runtime.healer
        rules.add_metric([], float(healer.stats().learned_rules) if healer is not None else 0.0)
        degraded = GaugeMetricFamily(
            "resilience_breaker_store_degraded",
            "1 while a breaker runs on local state because Redis is unreachable.",
            labels=["policy"],
        )
        fallbacks = CounterMetricFamily(
            "resilience_breaker_store_fallbacks",
            "Times a breaker fell back to local state because Redis was unreachable.",
            labels=["policy"],
        )
        for breaker in runtime.registry.breakers():
            store = breaker.store
            if hasattr(store, "degraded"):
                degraded.add_metric([breaker.name], float(store.degraded))
                fallbacks.add_metric([breaker.name], float(store.fallback_count))
        yield from (rules, degraded, fallbacks)

    def _health(self, snapshots: dict[str, Any]) -> Metric:
        """Successful / total calls of every policy over the last ``window`` seconds."""
        successes = sum(s.successes for s in snapshots.values())
        total = sum(s.calls for s in snapshots.values())
        now = time.monotonic()
        with self._lock:
            self._history.append((now, successes, total))
            while len(self._history) > 1 and self._history[1][0] <= now - self._window:
                self._history.popleft()
            _, old_successes, old_total = self._history[0]
        if len(self._history) == 1:
            old_successes = old_total = 0
        delta_total = total - old_total
        ratio = (successes - old_successes) / delta_total if delta_total else 1.0
        return GaugeMetricFamily(
            "resilience_system_health_ratio",
            f"Successful / total policy calls over the last {int(self._window)} s.",
            value=ratio,
        )


def _cumulative(buckets: tuple[int, ...]) -> list[tuple[str, float]]:
    running, out = 0, []
    for bound, count in zip((*DURATION_BUCKETS, float("inf")), buckets, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out


def init_metrics(app: Flask, state: ResilienceState) -> CollectorRegistry:
    """Per-app registry, HTTP metrics, the extension's collector and the scrape route."""
    registry = CollectorRegistry()
    path = state.config.string(METRICS_PATH, "/metrics") or "/metrics"
    PrometheusMetrics(
        app,
        path=None,
        registry=registry,
        group_by="url_rule",
        excluded_paths=[path, "/healthz", "/readyz"],
    )
    collector = ResilienceCollector(state)
    registry.register(collector)
    registry.register(RateLimitCollector(state))
    register_cache_metrics(registry, state)
    register_jobs_metrics(registry, state)
    state.capabilities["resilient"].registry.add_listener(collector.on_breaker_event)

    def scrape() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule(path, "resilience_metrics", scrape)
    return registry
