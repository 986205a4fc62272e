"""Rate-limit metrics, read at scrape time from counters the rate-limit runtime keeps anyway.

``resilience_ratelimit_hits_total{endpoint,limit}`` counts 429s by endpoint and policy name (both
bounded sets, never keys or addresses); ``resilience_ratelimit_fallback`` is 1 while limits are
answered from process memory because Redis is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..state import ResilienceState


class RateLimitCollector:
    """Reads one app's rate-limit runtime; an app without one reports no hits and no fallback."""

    def __init__(self, state: ResilienceState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily(
            "resilience_ratelimit_hits",
            "Requests refused with 429, by endpoint and limit (policy name).",
            labels=["endpoint", "limit"],
        )
        fallback = GaugeMetricFamily(
            "resilience_ratelimit_fallback",
            "1 while rate limits are answered from process memory because Redis is unreachable.",
        )
        runtime = self._state.capabilities.get("ratelimit")
        if runtime is not None:
            for (endpoint, limit), count in sorted(runtime.hit_counts().items()):
                hits.add_metric([endpoint, limit], float(count))
        fallback.add_metric([], float(runtime is not None and runtime.in_fallback))
        yield hits
        yield fallback
