"""Tag and pattern invalidation, seen by other app instances and other processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable

from flask import Flask

from .conftest import res, runtime


def _counting() -> tuple[list[int], Callable[[], int]]:
    calls: list[int] = []

    def load() -> int:
        calls.append(1)
        return len(calls)

    return calls, load


def test_tag_invalidation_is_seen_by_another_app_instance(cache_app: Callable[..., Flask]) -> None:
    """Invalidating a tag on one app makes the other app, on the same Redis, recompute."""
    one, two = cache_app(), cache_app()
    _calls_made, load = _counting()
    with two.app_context():
        assert res.cache.get_or_set("quiz:1", load, 60, tags=["quiz:1"]) == 1
    with one.app_context():
        assert res.cache.get_or_set("quiz:1", load, 60, tags=["quiz:1"]) == 1
        assert res.cache.invalidate(tags=["quiz:1"])
    with two.app_context():
        assert res.cache.get_or_set("quiz:1", load, 60, tags=["quiz:1"]) == 2


def test_tag_invalidation_from_another_process(
    cache_app: Callable[..., Flask], redis_url: str
) -> None:
    """A tag invalidated by a separate Python process is honoured here, with an L1 in front."""
    app = cache_app(RESILIENCE_CACHE_L1_SIZE=100, RESILIENCE_CACHE_L1_SYNC_INTERVAL=0)
    calls, load = _counting()
    with app.app_context():
        res.cache.get_or_set("quiz:9", load, 60, tags=["quiz:9"])
        res.cache.get_or_set("quiz:9", load, 60, tags=["quiz:9"])
    script = textwrap.dedent(
        f"""
        from flask import Flask
        from flask_resilience import Resilience
        app = Flask("other")
        app.config.update(RESILIENCE_DATABASE_URL="sqlite://", RESILIENCE_REDIS_URL={redis_url!r})
        res = Resilience(app)
        with app.app_context():
            assert res.cache.invalidate(tags=["quiz:9"])
        res.close(app)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    with app.app_context():
        assert res.cache.get_or_set("quiz:9", load, 60, tags=["quiz:9"]) == 2
    assert len(calls) == 2


def test_tags_are_independent(cache_app: Callable[..., Flask]) -> None:
    """Invalidating one tag leaves entries carrying only other tags alone."""
    app = cache_app()
    _calls_made, load = _counting()
    with app.app_context():
        res.cache.get_or_set("a", load, 60, tags=["quiz:1", "quizzes"])
        res.cache.get_or_set("b", load, 60, tags=["quiz:2", "quizzes"])
        res.cache.invalidate(tags=["quiz:1"])
        assert res.cache.get_or_set("b", load, 60, tags=["quiz:2", "quizzes"]) == 2
        assert res.cache.get_or_set("a", load, 60, tags=["quiz:1", "quizzes"]) == 3
        res.cache.invalidate(tags=["quizzes"])
        assert res.cache.get_or_set("b", load, 60, tags=["quiz:2", "quizzes"]) == 4


def test_entry_tags_are_checked_even_when_the_reader_names_none(
    cache_app: Callable[..., Flask],
) -> None:
    """An entry stored with tags is invalid after its tag is bumped, whatever the reader asks."""
    app = cache_app()
    _calls_made, load = _counting()
    with app.app_context():
        res.cache.get_or_set("k", load, 60, tags=["t"])
        res.cache.invalidate(tags=["t"])
        assert res.cache.get("k") is None
        assert res.cache.get_or_set("k", load, 60) == 2


def test_invalidation_during_computation_is_not_undone(cache_app: Callable[..., Flask]) -> None:
    """A value computed while its tag was invalidated is stored but never served afterwards."""
    app = cache_app()
    calls: list[int] = []

    def slow_load() -> str:
        calls.append(1)
        if len(calls) == 1:
            with app.app_context():
                res.cache.invalidate(tags=["t"])  # the data changed while we read it
            return "old"
        return "new"

    with app.app_context():
        assert res.cache.get_or_set("k", slow_load, 60, tags=["t"]) == "old"
        assert res.cache.get_or_set("k", slow_load, 60, tags=["t"]) == "new"


def test_pattern_invalidation_uses_scan_and_spares_other_keys(
    cache_app: Callable[..., Flask],
) -> None:
    """invalidate(pattern="quiz:*") deletes matching keys only, and no KEYS command is sent."""
    app = cache_app()
    with app.app_context():
        for i in range(30):
            res.cache.set(f"quiz:{i}", i, 60)
        res.cache.set("user:1", "u", 60)
        client = res.redis
        before = _calls(client, "keys")
        assert res.cache.invalidate(pattern="quiz:*")
        assert _calls(client, "keys") == before
        assert res.cache.get("quiz:3") is None
        assert res.cache.get("user:1") == "u"
        assert client.exists("resilience:cache:~{meta}:epoch")


def _calls(client: object, command: str) -> int:
    stats = client.info("commandstats")  # type: ignore[attr-defined]
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_delete_reaches_other_instances_l1(cache_app: Callable[..., Flask]) -> None:
    """delete(key) on one instance drops the key from another instance's L1."""
    settings = {"RESILIENCE_CACHE_L1_SIZE": 10, "RESILIENCE_CACHE_L1_SYNC_INTERVAL": 0}
    one, two = cache_app(**settings), cache_app(**settings)
    _calls_made, load = _counting()
    with two.app_context():
        res.cache.get_or_set("k", load, 60)
    with one.app_context():
        res.cache.delete("k")
    with two.app_context():
        assert res.cache.get_or_set("k", load, 60) == 2


def test_concurrent_invalidations_all_land(cache_app: Callable[..., Flask]) -> None:
    """Invalidations from many threads each bump the epoch once (the L1 event log stays whole)."""
    app = cache_app()

    def bump(i: int) -> None:
        with app.app_context():
            res.cache.invalidate(tags=[f"t{i}"])

    threads = [threading.Thread(target=bump, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store = runtime(app).store
    assert store.epoch() == 20
    assert sorted(e["e"] for e in store.events()) == list(range(1, 21))


def test_tag_counters_expire_after_the_entries_and_writes_refresh_them(
    cache_app: Callable[..., Flask],
) -> None:
    """A tag counter gets a TTL longer than the entries carrying it, renewed by each write."""
    app = cache_app(RESILIENCE_CACHE_TTLS={"long": 7200})
    tag_ttl = runtime(app).settings.tag_ttl
    assert tag_ttl >= 86_400 and tag_ttl >= 2 * (7200 + 60)
    with app.app_context():
        res.cache.get_or_set("a", lambda: 1, 600, tags=["t"])
        counter = "resilience:cache:~tag:t"
        assert 600 + 60 < res.redis.ttl(counter) <= tag_ttl + 660
        res.redis.expire(counter, 5)  # nearly gone
        res.cache.get_or_set("b", lambda: 2, 600, tags=["t"])  # a write carrying the tag
        assert res.redis.ttl(counter) > tag_ttl
        res.redis.persist(counter)  # a counter left without TTL by an older version
        res.cache.set("c", 3, 60, tags=["t"])
        assert res.redis.ttl(counter) > 0


def test_invalidating_an_unseen_tag_starts_it_at_random_with_a_ttl(
    cache_app: Callable[..., Flask],
) -> None:
    """INCR alone would restart a lost counter at 1 and keep it forever; ours does neither."""
    app = cache_app()
    with app.app_context():
        assert res.cache.invalidate(tags=["never-used"])
        counter = "resilience:cache:~tag:never-used"
        assert int(res.redis.get(counter)) > 2
        assert res.redis.ttl(counter) > 0


def test_lost_tag_counter_turns_entries_into_misses(cache_app: Callable[..., Flask]) -> None:
    """When a counter expires (or is evicted), entries carrying it are recomputed, never served."""
    app = cache_app()
    calls, load = _counting()
    with app.app_context():
        assert res.cache.get_or_set("k", load, 600, tags=["t"]) == 1
        res.redis.delete("resilience:cache:~tag:t")
        assert res.cache.get_or_set("k", load, 600, tags=["t"]) == 2
        res.redis.delete("resilience:cache:~tag:t")
        assert res.cache.invalidate(tags=["t"])  # recreated by the bump, at random
        assert res.cache.get_or_set("k", load, 600, tags=["t"]) == 3
    assert len(calls) == 3
