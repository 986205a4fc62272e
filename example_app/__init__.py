"""A small quiz platform built on flask-resilience the way we tell users to build theirs.

>>> app = create_app({"TESTING": True})  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from flask_resilience import schema

from . import api, auth, cli, db, errors, pages, progress  # noqa: F401  (progress: autosave)
from .extensions import resilience
from .settings import ensure_secret_key, load_environment


def create_app(
    test_config: Mapping[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """Build the app; in embedded mode also migrate, create tables and seed, so it just runs.

    ``test_config`` wins over the ``EXAMPLE_*`` and ``RESILIENCE_*`` environment variables;
    ``instance_path`` moves the instance folder (SQLite file, secret key) elsewhere, e.g. for tests.
    """
    app = Flask(__name__, instance_path=instance_path)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep "id" first, as written
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        # Lax keeps the session cookie off cross-site POSTs, which is this demo's CSRF defence.
        SESSION_COOKIE_SAMESITE="Lax",
    )
    load_environment(app.config)
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    production = not resilience.settings_for(app).embedded
    ensure_secret_key(app, production=production)

    resilience.init_app(app)
    db.init_app(app, resilience.get_engine(app))
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    cli.init_app(app)

    if not production:
        schema.upgrade(app)
        cli.prepare_database(app)
    return app
