"""Prometheus metrics of the cache, read at scrape time from the counters the runtime keeps.

``resilience_cache_requests_total{name,result}`` with ``result`` one of hit, miss, stale, error:
hit ratio is ``sum(rate(...{result="hit"}[5m])) / sum(rate(...[5m]))``. ``miss`` counts the
requests that computed the value; callers that waited for another's computation count as hits.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..state import ResilienceState


class CacheCollector:
    """Reads one app's cache runtime; costs the request path nothing."""

    def __init__(self, state: ResilienceState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        runtime = self._state.capabilities.get("cache")
        if runtime is None:
            return
        requests = CounterMetricFamily(
            "resilience_cache_requests",
            "Cache lookups by cache name and result (hit, miss, stale, error).",
            labels=["name", "result"],
        )
        for (name, result), count in sorted(runtime.counters.snapshot().items()):
            requests.add_metric([name, result], count)
        degraded = GaugeMetricFamily(
            "resilience_cache_degraded",
            "1 while the cache's Redis is unreachable and values are computed directly.",
            value=float(runtime.outage.degraded),
        )
        yield from (requests, degraded)


def register_cache_metrics(registry: CollectorRegistry, state: ResilienceState) -> None:
    registry.register(CacheCollector(state))
