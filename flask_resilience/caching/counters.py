"""Per-app request counters and key rules shared by the runtime and the decorator."""

from __future__ import annotations

import threading
from collections import defaultdict

RESULTS = ("hit", "miss", "stale", "error")


class CacheCounters:
    """Requests by (name, result); read by the Prometheus collector at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: defaultdict[tuple[str, str], int] = defaultdict(int)

    def add(self, name: str, result: str) -> None:
        with self._lock:
            self._counts[(name, result)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


def default_name(key: str) -> str:
    """The metric name of a bare key: its first ``:`` segment, to bound label cardinality."""
    return key.split(":", 1)[0]


def check_key(key: str) -> None:
    """Reject keys that would collide with our internal ``~`` keys, or are not strings."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"cache key must be a non-empty string, not {key!r}")
    if key.startswith("~"):
        raise ValueError(f"cache keys starting with '~' are reserved: {key!r}")
