"""The in-process L1 in front of Redis, and its coherence across app instances."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from .conftest import res, runtime

L1 = {"RESILIENCE_CACHE_L1_SIZE": 100, "RESILIENCE_CACHE_L1_TTL": 30}


def test_l1_hit_needs_no_redis_value(cache_app: Callable[..., Flask]) -> None:
    """Once in L1, a value is served even after its Redis copy is gone behind our back."""
    app = cache_app(**L1)
    with app.app_context():
        res.cache.get_or_set("k", lambda: "v", 60)
        res.cache.get_or_set("k", lambda: "x", 60)  # fills L1 from the Redis hit
        res.redis.delete("resilience:cache:k")
        assert res.cache.get_or_set("k", lambda: "recomputed", 60) == "v"


def test_l1_sees_tag_invalidation_from_another_instance(cache_app: Callable[..., Flask]) -> None:
    """Another instance's tag invalidation empties this L1 within the sync interval."""
    one = cache_app(**L1, RESILIENCE_CACHE_L1_SYNC_INTERVAL=0.05)
    two = cache_app(**L1, RESILIENCE_CACHE_L1_SYNC_INTERVAL=0.05)
    values = iter(["v1", "v2", "v3"])
    with one.app_context():
        assert res.cache.get_or_set("quiz:1", lambda: next(values), 60, tags=["quiz:1"]) == "v1"
        assert res.cache.get_or_set("quiz:1", lambda: next(values), 60, tags=["quiz:1"]) == "v1"
        assert len(runtime(one).l1 or ()) == 1
    with two.app_context():
        res.cache.invalidate(tags=["quiz:1"])
    time.sleep(0.15)  # > the 50 ms sync interval, with slack for a loaded machine
    with one.app_context():
        assert res.cache.get_or_set("quiz:1", lambda: next(values), 60, tags=["quiz:1"]) == "v2"


def test_l1_drops_only_invalidated_entries(cache_app: Callable[..., Flask]) -> None:
    """An invalidation event drops the entries it names and keeps the rest of L1."""
    one = cache_app(**L1, RESILIENCE_CACHE_L1_SYNC_INTERVAL=0)
    two = cache_app(**L1)
    with one.app_context():
        for key in ("a", "b"):
            res.cache.get_or_set(key, lambda k=key: k, 60, tags=[key])
            res.cache.get_or_set(key, lambda: "x", 60, tags=[key])
    with two.app_context():
        res.cache.invalidate(tags=["a"])
    with one.app_context():
        res.cache.get_or_set("probe", lambda: 0, 60)  # any lookup syncs
        l1 = runtime(one).l1
        assert l1 is not None and l1.get("a") is None and l1.get("b") is not None


def test_pattern_invalidation_reaches_other_l1(cache_app: Callable[..., Flask]) -> None:
    """A pattern invalidated elsewhere drops matching keys from this L1."""
    one = cache_app(**L1, RESILIENCE_CACHE_L1_SYNC_INTERVAL=0)
    two = cache_app(**L1)
    with one.app_context():
        res.cache.get_or_set("quiz:1", lambda: 1, 60)
        res.cache.get_or_set("quiz:1", lambda: 1, 60)
    with two.app_context():
        res.cache.invalidate(pattern="quiz:*")
    with one.app_context():
        assert res.cache.get_or_set("quiz:1", lambda: 2, 60) == 2


def test_gap_in_the_event_log_clears_l1(cache_app: Callable[..., Flask]) -> None:
    """When events are missing (log trimmed or lost) the whole L1 is dropped, to be safe."""
    app = cache_app(**L1, RESILIENCE_CACHE_L1_SYNC_INTERVAL=0)
    with app.app_context():
        res.cache.get_or_set("k", lambda: 1, 60)
        res.cache.get_or_set("k", lambda: 1, 60)
        res.redis.incr("resilience:cache:~{meta}:epoch", 5)  # five events nobody logged
        assert res.cache.get_or_set("k", lambda: 2, 60) == 1  # served from Redis, L1 refilled
        assert len(runtime(app).l1 or ()) == 1


def test_l1_entry_lives_at_most_its_ttl(cache_app: Callable[..., Flask]) -> None:
    """An L1 entry expires after RESILIENCE_CACHE_L1_TTL even without any invalidation."""
    app = cache_app(RESILIENCE_CACHE_L1_SIZE=10, RESILIENCE_CACHE_L1_TTL=0.05)
    with app.app_context():
        res.cache.get_or_set("k", lambda: 1, 60)
        res.cache.get_or_set("k", lambda: 1, 60)
        res.redis.delete("resilience:cache:k")
        time.sleep(0.06)
        assert res.cache.get_or_set("k", lambda: 2, 60) == 2


def test_l1_is_bounded_lru(cache_app: Callable[..., Flask]) -> None:
    """The L1 keeps at most RESILIENCE_CACHE_L1_SIZE entries, evicting the least recently used."""
    app = cache_app(RESILIENCE_CACHE_L1_SIZE=2)
    with app.app_context():
        for key in ("a", "b", "a", "c"):
            res.cache.get_or_set(key, lambda: 0, 60)
            res.cache.get_or_set(key, lambda: 0, 60)
        l1 = runtime(app).l1
        assert l1 is not None and len(l1) == 2
        assert l1.get("b") is None and l1.get("a") is not None
