"""The optional in-process L1: a small LRU with a short TTL in front of Redis.

An L1 hit costs no network round trip, so it must learn about invalidations made by other
processes without one per request. Every ``sync_interval`` seconds one thread reads the
invalidation epoch from Redis (one GET); when it moved, it reads the event log and drops exactly
the entries whose tags, keys or key pattern were invalidated, or everything when events are
missing (log overflow, Redis flushed). Staleness bound, for entries invalidated elsewhere:
``sync_interval`` plus one round trip while Redis answers; ``ttl`` while it does not.
Invalidations made in this process apply to its own L1 at once.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .entry import Entry


class LocalCache:
    """LRU of frozen entries; ``version`` changes whenever entries are dropped."""

    def __init__(
        self,
        size: int,
        ttl: float,
        sync_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.ttl = ttl
        self.sync_interval = sync_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._data: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
        self._next_sync = 0.0
        self.epoch: int | None = None
        self.version = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> Entry | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if self._clock() >= item[0]:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def put(self, key: str, entry: Entry, version: int, remaining: float | None) -> None:
        """Insert unless entries were dropped since ``version`` was read.

        The caller read ``version`` before going to Redis; if an invalidation was applied
        meanwhile, the value it fetched may predate it and must not outlive it here.
        """
        lifetime = self.ttl if remaining is None else min(self.ttl, remaining)
        if lifetime <= 0:
            return
        with self._lock:
            if version != self.version:
                return
            self._data[key] = (self._clock() + lifetime, entry)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def drop(self, predicate: Callable[[str, Entry], bool]) -> int:
        with self._lock:
            doomed = [k for k, (_, entry) in self._data.items() if predicate(k, entry)]
            for key in doomed:
                del self._data[key]
            self.version += 1
            return len(doomed)

    def drop_tags(self, tags: Iterable[str]) -> int:
        wanted = set(tags)
        return self.drop(lambda _, entry: not wanted.isdisjoint(entry.gens))

    def drop_keys(self, keys: Iterable[str]) -> int:
        wanted = set(keys)
        return self.drop(lambda key, _: key in wanted)

    def drop_pattern(self, pattern: str) -> int:
        return self.drop(lambda key, _: fnmatch.fnmatchcase(key, pattern))

    def clear(self) -> int:
        return self.drop(lambda _, __: True)

    def forget(
        self,
        *,
        tags: Sequence[str] = (),
        keys: Sequence[str] = (),
        pattern: str | None = None,
        everything: bool = False,
    ) -> None:
        """Apply an invalidation made in this process at once (others learn it by ``sync``)."""
        if everything:
            self.clear()
        if tags:
            self.drop_tags(tags)
        if keys:
            self.drop_keys(keys)
        if pattern is not None:
            self.drop_pattern(pattern)

    def sync(self, read_epoch: Callable[[], int], read_events: Callable[[], list[Any]]) -> bool:
        """Apply invalidations made elsewhere, at most once per ``sync_interval``, one thread.

        True when this call read from Redis (and it answered). Other threads keep serving
        while one syncs; Redis errors propagate to the caller.
        """
        now = self._clock()
        if now < self._next_sync or not self._sync_lock.acquire(blocking=False):
            return False
        try:
            self._next_sync = now + self.sync_interval
            epoch = read_epoch()
            if epoch != self.epoch:
                if self.epoch is None or epoch < self.epoch:
                    self.clear()
                else:
                    self._apply(self.epoch, epoch, read_events())
                self.epoch = epoch
            return True
        finally:
            self._sync_lock.release()

    def _apply(self, seen: int, epoch: int, events: list[dict[str, Any]]) -> None:
        news = [event for event in events if seen < int(event.get("e", 0)) <= epoch]
        if len(news) != epoch - seen:
            self.clear()
            return
        for event in news:
            if event.get("all"):
                self.clear()
            if event.get("tags"):
                self.drop_tags(event["tags"])
            if event.get("keys"):
                self.drop_keys(event["keys"])
            if event.get("pattern"):
                self.drop_pattern(event["pattern"])
