"""Cache-aside through ``res.cache``: get_or_set, TTLs, presets, set/get/delete."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from flask_resilience import ConfigurationError

from .conftest import Clock, res, runtime


def test_get_or_set_computes_once_then_hits(cache_app: Callable[..., Flask]) -> None:
    """The first call computes and stores; the second returns the stored value without computing."""
    app = cache_app()
    calls = []

    def load() -> dict[str, object]:
        calls.append(1)
        return {"id": 7, "tags": ["a", "b"]}

    with app.app_context():
        assert res.cache.get_or_set("quiz:7", load, 60) == {"id": 7, "tags": ["a", "b"]}
        assert res.cache.get_or_set("quiz:7", load, 60) == {"id": 7, "tags": ["a", "b"]}
    assert len(calls) == 1


def test_expired_value_is_recomputed(cache_app: Callable[..., Flask]) -> None:
    """After its TTL and stale grace the value is computed again."""
    app = cache_app(RESILIENCE_CACHE_STALE_TTL=0)
    clock = runtime(app).clock = Clock()
    values = iter([1, 2])
    with app.app_context():
        assert res.cache.get_or_set("n", lambda: next(values), 10) == 1
        clock.now += 9
        assert res.cache.get_or_set("n", lambda: next(values), 10) == 1
        clock.now += 2
        assert res.cache.get_or_set("n", lambda: next(values), 10) == 2


def test_ttl_preset_by_name(cache_app: Callable[..., Flask]) -> None:
    """A TTL given by name comes from RESILIENCE_CACHE_TTLS, also as JSON text."""
    app = cache_app(RESILIENCE_CACHE_TTLS='{"quiz:list": 3600}')
    with app.app_context():
        assert res.cache.ttl("quiz:list") == 3600
        res.cache.get_or_set("quiz:list:all", lambda: [1], "quiz:list")
        seconds = res.redis.ttl("resilience:cache:quiz:list:all")  # preset + stale grace
        assert 3600 < seconds <= 3600 + 60


def test_unknown_preset_names_the_key(cache_app: Callable[..., Flask]) -> None:
    """An unknown preset name raises ConfigurationError naming RESILIENCE_CACHE_TTLS."""
    app = cache_app()
    with app.app_context(), pytest.raises(ConfigurationError, match="RESILIENCE_CACHE_TTLS"):
        res.cache.get_or_set("x", lambda: 1, "nope")


def test_set_get_delete(cache_app: Callable[..., Flask]) -> None:
    """set stores, get reads without computing, delete removes."""
    app = cache_app()
    with app.app_context():
        assert res.cache.get("k", "default") == "default"
        assert res.cache.set("k", {"a": 1}, 60)
        assert res.cache.get("k") == {"a": 1}
        assert res.cache.delete("k")
        assert res.cache.get("k") is None


def test_returned_values_are_private_copies(cache_app: Callable[..., Flask]) -> None:
    """Mutating a returned value does not change what the next caller gets, even from L1."""
    app = cache_app(RESILIENCE_CACHE_L1_SIZE=10)
    with app.app_context():
        first = res.cache.get_or_set("list", lambda: [1, 2], 60)
        first.append(3)
        second = res.cache.get_or_set("list", lambda: [9], 60)
        second.append(4)
        assert res.cache.get_or_set("list", lambda: [9], 60) == [1, 2]


def test_reserved_and_empty_keys_are_rejected(cache_app: Callable[..., Flask]) -> None:
    """Keys starting with '~' are internal; empty keys are an error."""
    app = cache_app()
    with app.app_context():
        with pytest.raises(ValueError, match="reserved"):
            res.cache.get_or_set("~tag:x", lambda: 1, 1)
        with pytest.raises(ValueError, match="non-empty"):
            res.cache.get_or_set("", lambda: 1, 1)


def test_non_json_value_is_refused(cache_app: Callable[..., Flask]) -> None:
    """A value that is not plain data raises TypeError instead of being pickled."""
    app = cache_app()
    with app.app_context(), pytest.raises(TypeError, match="pickle is never used"):
        res.cache.get_or_set("obj", lambda: object(), 60)


def test_embedded_mode_uses_simplecache(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Without RESILIENCE_REDIS_URL the cache runs on Flask-Caching's SimpleCache and fakeredis."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    calls = []
    with app.app_context():
        for _ in range(2):
            res.cache.get_or_set("a:1", lambda: calls.append(1) or "v", 60, tags=["t"])
        assert type(runtime(app).store.backend).__name__ == "SimpleCache"
        assert res.cache.invalidate(tags=["t"], pattern="a:*")
        res.cache.get_or_set("a:1", lambda: calls.append(1) or "v", 60, tags=["t"])
    assert len(calls) == 2
