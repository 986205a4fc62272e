"""Admin routes. Every request passes the host's ``admin_auth`` callback or gets a 403 problem."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from ..problems import problem_response, register_problem_handlers
from ..schema import current_revision, head_revision
from ..state import get_state


def admin_blueprint() -> Blueprint:
    blueprint = Blueprint("resilience_admin", __name__)
    blueprint.before_request(_require_admin)
    blueprint.add_url_rule("/", "overview", _overview)
    register_problem_handlers(blueprint)
    return blueprint


def _require_admin() -> Response | None:
    if get_state().is_admin():
        return None
    return problem_response(403, detail="this route needs an administrator")


def _overview() -> Response:
    """What an operator checks first: mode, backends and whether migrations are current."""
    state = get_state()
    settings = state.settings
    body: dict[str, Any] = {
        "env": settings.env,
        "embedded": settings.embedded,
        "database": state.engine.dialect.name,
        "redis": "embedded" if settings.embedded else "configured",
        "url_prefix": settings.url_prefix,
        "migrations": {"current": current_revision(current_app), "head": head_revision()},
        "engine_preset": {
            name: getattr(settings.engine, name) for name in settings.engine.__slots__
        },
    }
    return jsonify(body)
