"""Per-app request counters and key rules shared by the runtime and the decorator."""

from __future__ import annotations

import logging
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


class Clashes:
    """Logs once per cache name and side that a view and a value share one key.

    A view stores its response and ``get_or_set`` or a cached function stores a value; under
    one key each finds the other's kind and computes uncached. That is never what was meant,
    and silently losing the cache hides it, so it is logged at WARNING with the fix.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()

    def report(self, key: str, name: str, found: str, caller: str) -> None:
        with self._lock:
            if (name, caller) in self._seen:
                return
            self._seen.add((name, caller))
        self._logger.warning(
            "cache key %r holds %s, so %s computes it uncached every time; give views and "
            'values different keys (e.g. key="page:quiz:{quiz_id}" for the view)',
            key,
            found,
            caller,
        )

    def __contains__(self, name: str) -> bool:
        with self._lock:
            return any(seen == name for seen, _ in self._seen)


def default_name(key: str) -> str:
    """The metric name of a bare key: its first ``:`` segment, to bound label cardinality."""
    return key.split(":", 1)[0]


def check_key(key: str) -> None:
    """Reject keys that would collide with our internal ``~`` keys, or are not strings."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"cache key must be a non-empty string, not {key!r}")
    if key.startswith("~"):
        raise ValueError(f"cache keys starting with '~' are reserved: {key!r}")
