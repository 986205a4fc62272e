"""The admin blueprint exists only with an admin_auth callback and enforces it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request

from flask_resilience import Resilience, schema


def test_admin_routes_absent_without_admin_auth(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """No admin_auth callback: the admin URL is not routed at all (404 problem)."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url})
    assert not any(
        rule.endpoint.startswith("resilience_admin") for rule in app.url_map.iter_rules()
    )
    response = app.test_client().get("/resilience/admin/")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_admin_auth_gates_the_overview(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """The callback decides: 403 problem for others, the overview for admins."""
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url, "RESILIENCE_ENV": "staging"}, init=False)
    res = Resilience(app)

    @res.admin_auth
    def is_admin() -> bool:
        return request.headers.get("X-Admin") == "yes"

    schema.upgrade(app)
    client = app.test_client()
    denied = client.get("/resilience/admin/")
    assert denied.status_code == 403
    assert denied.get_json()["status"] == 403
    body = client.get("/resilience/admin/", headers={"X-Admin": "yes"}).get_json()
    assert body["env"] == "staging"
    assert body["embedded"] is True
    assert body["database"] == "sqlite"
    assert body["migrations"]["current"] == body["migrations"]["head"]
    assert body["engine_preset"]["max_retries"] == 3


def test_admin_auth_given_before_init_app(make_app: Callable[..., Flask], sqlite_url: str) -> None:
    """Registering admin_auth before init_app also mounts the routes."""
    res = Resilience()
    res.admin_auth(lambda: False)
    app = make_app({"RESILIENCE_DATABASE_URL": sqlite_url}, init=False)
    res.init_app(app)
    assert app.test_client().get("/resilience/admin/").status_code == 403
