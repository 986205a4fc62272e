"""RFC 9457 problem responses from the extension's routes."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, abort

from flask_resilience.problems import (
    PROBLEM_MIMETYPE,
    install_prefix_problems,
    problem_response,
    register_problem_handlers,
)


def test_problem_body_has_the_standard_members(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """type, title, status, detail, instance and extension members are all present."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    with app.test_request_context("/resilience/autosave/x"):
        response = problem_response(412, detail="stale", current_version=3, headers={"ETag": '"3"'})
    assert response.status_code == 412
    assert response.mimetype == PROBLEM_MIMETYPE
    assert response.headers["ETag"] == '"3"'
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Precondition Failed",
        "status": 412,
        "detail": "stale",
        "instance": "/resilience/autosave/x",
        "current_version": 3,
    }


def test_unknown_route_under_prefix_is_a_problem(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """A 404 under the extension's prefix is problem JSON, not an HTML page."""
    client = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}).test_client()
    response = client.get("/resilience/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_MIMETYPE
    assert response.get_json()["instance"] == "/resilience/no-such-thing"


def test_host_routes_keep_their_own_error_pages(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """A 404 outside the prefix stays the host app's default HTML response."""
    client = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}).test_client()
    response = client.get("/elsewhere")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_method_not_allowed_keeps_allow_header(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """A 405 under the prefix is a problem that still lists the allowed methods."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}, init=False)
    blueprint = Blueprint("demo", __name__)
    blueprint.add_url_rule("/thing", "thing", lambda: "ok")
    register_problem_handlers(blueprint)
    app.register_blueprint(blueprint, url_prefix="/resilience")
    from flask_resilience import Resilience

    Resilience(app)
    response = app.test_client().post("/resilience/thing")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM_MIMETYPE
    assert "GET" in response.headers["Allow"]


def test_errors_in_blueprint_views_are_problems_without_traces(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """abort() and unexpected exceptions in an extension view never leak HTML or a stack trace."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "TESTING": False})
    blueprint = Blueprint("boom", __name__)
    blueprint.add_url_rule("/conflict", "conflict", lambda: abort(409))

    def explode() -> str:
        raise ValueError("secret internals")

    blueprint.add_url_rule("/explode", "explode", explode)
    register_problem_handlers(blueprint)
    app.register_blueprint(blueprint, url_prefix="/resilience/boom")
    client = app.test_client()
    assert client.get("/resilience/boom/conflict").get_json()["status"] == 409
    response = client.get("/resilience/boom/explode")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM_MIMETYPE
    assert b"secret internals" not in response.data
    assert b"Traceback" not in response.data


def test_prefix_handler_chains_to_the_hosts_earlier_handler(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """A host HTTPException handler registered before the extension still serves its paths."""
    from werkzeug.exceptions import HTTPException

    from flask_resilience import Resilience
    from flask_resilience.problems import install_prefix_problems

    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}, init=False)
    app.register_error_handler(HTTPException, lambda exc: (f"host says {exc.code}", exc.code))
    Resilience(app)
    install_prefix_problems(app, "/api")
    client = app.test_client()
    assert client.get("/elsewhere").data == b"host says 404"
    assert client.get("/api/nothing").mimetype == PROBLEM_MIMETYPE
    assert client.get("/resilience/nothing").mimetype == PROBLEM_MIMETYPE


def test_an_attached_problem_survives_an_app_level_handler(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """abort(problem_response(...)) under a prefix handled app-wide keeps its precise body."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    install_prefix_problems(app, "/api")

    @app.get("/api/thing")
    def thing() -> str:
        abort(problem_response(409, detail="taken", current_version=7))

    response = app.test_client().get("/api/thing")
    assert response.status_code == 409
    assert response.get_json()["current_version"] == 7
    assert response.get_json()["detail"] == "taken"
