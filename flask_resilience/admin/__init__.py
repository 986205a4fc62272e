"""The admin JSON API and dashboard; registered only when an ``admin_auth`` callback exists."""

from __future__ import annotations

from flask import Flask

from ..state import ResilienceState
from .jobs import init_jobs
from .metrics import init_metrics
from .stress import init_stress
from .views import admin_blueprint


def init_app(app: Flask, state: ResilienceState) -> None:
    """Mount the admin blueprint (overview, stress and jobs API) under ``<url_prefix>/admin``."""
    blueprint = admin_blueprint()
    init_stress(blueprint, state)
    init_jobs(blueprint, state)
    init_metrics(blueprint, state)
    app.register_blueprint(blueprint, url_prefix=f"{state.settings.url_prefix}/admin")


__all__ = ["init_app"]
