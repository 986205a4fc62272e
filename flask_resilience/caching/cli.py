"""``flask resilience cache stats | clear``: look at the cache and invalidate it by hand."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from ..state import EXTENSION_KEY
from .runtime import CacheRuntime

cache_group = AppGroup("cache", help="Inspect and invalidate the cache (Flask-Caching + Redis).")


def _runtime() -> CacheRuntime:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get(EXTENSION_KEY)
    if state is None or "cache" not in state.capabilities:
        raise click.ClickException(
            f"the app {app.name!r} does not use flask-resilience: call Resilience(app)"
        )
    return state.capabilities["cache"]  # type: ignore[no-any-return]


@cache_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats_command(as_json: bool) -> None:
    """Backend, key and tag counts, invalidation epoch, recent invalidations, TTL presets.

    Hit and miss counts live in each serving process: scrape resilience_cache_requests_total.
    """
    runtime = _runtime()
    stats = runtime.stats()
    stats.pop("requests", None)
    stats["ttl_presets"] = dict(runtime.settings.ttls)
    stats["l1_size"] = runtime.settings.l1_size
    if as_json:
        click.echo(json.dumps(stats, sort_keys=True))
        return
    for name, value in stats.items():
        click.echo(f"{name}: {json.dumps(value) if isinstance(value, list | dict) else value}")


@cache_group.command("clear")
@click.option("--tag", "tags", multiple=True, help="Invalidate entries with this tag (repeatable).")
@click.option("--pattern", default=None, help="Delete keys matching this glob (SCAN, not KEYS).")
@click.option("--all", "everything", is_flag=True, help="Delete every cached value.")
def clear_command(tags: tuple[str, ...], pattern: str | None, everything: bool) -> None:
    """Invalidate by --tag T (repeatable), --pattern 'quiz:*', or everything with --all."""
    if not (tags or pattern or everything):
        raise click.UsageError("give --tag T, --pattern P or --all")
    runtime = _runtime()
    ok = runtime.clear() if everything else runtime.invalidate(tags=tags, pattern=pattern)
    if not ok:
        raise click.ClickException("Redis is unreachable; nothing was invalidated")
    what = (
        "everything"
        if everything
        else ", ".join([*(f"tag {t}" for t in tags), *([f"pattern {pattern}"] if pattern else [])])
    )
    click.echo(f"invalidated {what}")
