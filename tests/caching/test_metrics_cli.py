"""Cache metrics on /metrics and the ``flask resilience cache`` commands."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Flask

from flask_resilience.cli import resilience_group

from .conftest import res, runtime


def test_requests_are_counted_by_name_and_result(cache_app: Callable[..., Flask]) -> None:
    """resilience_cache_requests_total counts hits and misses per cache name."""
    app = cache_app()
    with app.app_context():
        for _ in range(3):
            res.cache.get_or_set("quiz:1", lambda: 1, 60, name="quiz")
        res.cache.get_or_set("user:1", lambda: 1, 60)
    text = app.test_client().get("/metrics").text
    assert 'resilience_cache_requests_total{name="quiz",result="hit"} 2.0' in text
    assert 'resilience_cache_requests_total{name="quiz",result="miss"} 1.0' in text
    assert 'resilience_cache_requests_total{name="user",result="miss"} 1.0' in text
    assert "resilience_cache_degraded 0.0" in text


def test_view_metrics_use_the_template_head_as_name(cache_app: Callable[..., Flask]) -> None:
    """A cached view is counted under its key template's literal head, not each filled key."""
    app = cache_app()

    @app.get("/q/<int:quiz_id>")
    @res.cache.cached(ttl=60, key="quiz:detail:{quiz_id}")
    def detail(quiz_id: int) -> str:
        return str(quiz_id)

    client = app.test_client()
    for quiz_id in (1, 2, 1):
        client.get(f"/q/{quiz_id}")
    assert runtime(app).counters.snapshot() == {
        ("quiz:detail", "miss"): 2,
        ("quiz:detail", "hit"): 1,
    }


def test_cli_stats_reports_keys_and_invalidations(cache_app: Callable[..., Flask]) -> None:
    """`flask resilience cache stats --json` shows key count, epoch and TTL presets."""
    app = cache_app(RESILIENCE_CACHE_TTLS={"quiz:list": 3600})
    with app.app_context():
        res.cache.get_or_set("a", lambda: 1, 60, tags=["t"])
        res.cache.get_or_set("b", lambda: 1, 60)
        res.cache.invalidate(tags=["t"])
    result = app.test_cli_runner().invoke(resilience_group, ["cache", "stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["keys"] == 2 and stats["tags"] == 1 and stats["epoch"] == 1
    assert stats["ttl_presets"] == {"quiz:list": 3600}
    plain = app.test_cli_runner().invoke(resilience_group, ["cache", "stats"])
    assert "backend: RedisCache" in plain.output


def test_cli_clear_by_tag_and_all(cache_app: Callable[..., Flask]) -> None:
    """`cache clear --tag T` invalidates that tag; `--all` empties the cache; no option fails."""
    app = cache_app()
    runner = app.test_cli_runner()
    with app.app_context():
        res.cache.get_or_set("a", lambda: 1, 60, tags=["t"])
        res.cache.get_or_set("b", lambda: 1, 60)
    result = runner.invoke(resilience_group, ["cache", "clear", "--tag", "t"])
    assert result.exit_code == 0 and "tag t" in result.output
    with app.app_context():
        assert res.cache.get("a") is None and res.cache.get("b") == 1
    assert runner.invoke(resilience_group, ["cache", "clear", "--all"]).exit_code == 0
    with app.app_context():
        assert res.cache.get("b") is None
    assert runner.invoke(resilience_group, ["cache", "clear"]).exit_code == 2
