"""Prometheus metrics of background jobs, read from Redis at scrape time.

Workers are separate processes, so in-process counters of the web server would see nothing.
Instead the workers add to one Redis hash as they go (in the pipelines they send anyway) and the
scrape reads it and the queue sizes in one pipelined round trip, so every web process reports the
same fleet-wide numbers, however many workers run:

- ``resilience_jobs_queue_depth{queue,registry}``: jobs waiting (``registry="queued"``) and in
  RQ's registries (started, scheduled, deferred, failed, finished, canceled) plus ``dead``;
- ``resilience_jobs_total{task,outcome}``: finished, failed, retried, dead, requeued;
- ``resilience_jobs_duration_seconds{task}``: a histogram of run times.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from rq import Queue

from ..jobs.control import REGISTRIES
from ..jobs.records import DURATION_BUCKETS, STATS_KEY, dead_key
from ..state import ResilienceState

OUTCOMES = ("finished", "failed", "retried", "dead", "requeued")


class JobsCollector:
    """Reads one app's job counters and queue sizes from Redis when scraped."""

    def __init__(self, state: ResilienceState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        runtime = self._state.capabilities.get("jobs")
        if runtime is None:
            return
        try:
            depths, stats = self._read(runtime)
        except Exception:  # Redis down: report nothing rather than fail the whole scrape
            return
        depth = GaugeMetricFamily(
            "resilience_jobs_queue_depth",
            "Jobs per queue and RQ registry (queued = waiting to run).",
            labels=["queue", "registry"],
        )
        for (queue, registry), value in depths:
            depth.add_metric([queue, registry], float(value))
        yield depth
        yield from self._counters(stats)

    def _read(self, runtime: Any) -> tuple[list[tuple[tuple[str, str], int]], dict[str, str]]:
        labels = []
        with runtime.connection.pipeline(transaction=False) as pipe:
            for queue in runtime.settings.queues:
                pipe.llen(Queue.redis_queue_namespace_prefix + queue)
                labels.append((queue, "queued"))
                for name, registry_class in REGISTRIES.items():
                    pipe.zcard(registry_class(queue, connection=runtime.connection).key)
                    labels.append((queue, name))
                pipe.zcard(dead_key(queue))
                labels.append((queue, "dead"))
            pipe.hgetall(STATS_KEY)
            replies = pipe.execute()
        stats = {_text(k): _text(v) for k, v in replies[-1].items()}
        depths = list(zip(labels, replies[: len(labels)], strict=True))
        return depths, stats

    def _counters(self, stats: dict[str, str]) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "resilience_jobs", "Job runs by task and outcome.", labels=["task", "outcome"]
        )
        buckets: dict[str, list[float]] = {}
        sums: dict[str, float] = {}
        for field, value in sorted(stats.items()):
            kind, _, rest = field.partition("|")
            if kind in OUTCOMES:
                total.add_metric([rest, kind], float(value))
            elif kind == "dur":
                task, _, index = rest.rpartition("|")
                counts = buckets.setdefault(task, [0.0] * (len(DURATION_BUCKETS) + 1))
                counts[int(index)] = float(value)
            elif kind == "dursum":
                sums[rest] = float(value)
        duration = HistogramMetricFamily(
            "resilience_jobs_duration_seconds", "Job run time by task.", labels=["task"]
        )
        for task, counts in sorted(buckets.items()):
            running, points = 0.0, []
            for bound, count in zip((*DURATION_BUCKETS, float("inf")), counts, strict=True):
                running += count
                points.append(("+Inf" if bound == float("inf") else repr(bound), running))
            duration.add_metric([task], points, sums.get(task, 0.0))
        yield from (total, duration)


def register_jobs_metrics(registry: CollectorRegistry, state: ResilienceState) -> None:
    registry.register(JobsCollector(state))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
