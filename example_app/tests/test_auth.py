"""Login by API and by form, bearer tokens, and the identity hooks handed to the extension."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from example_app.auth import current_user

from .conftest import assert_problem


def test_login_returns_a_token_that_identifies_the_user(client: FlaskClient) -> None:
    """A correct name and password give a token; the token then opens protected routes."""
    response = client.post("/auth/login", json={"username": "alice", "password": "wonderland"})
    assert response.status_code == 200
    token = response.get_json()["token"]
    stats = client.get("/api/users/me/stats", headers={"Authorization": f"Bearer {token}"})
    assert stats.status_code == 200
    assert stats.get_json()["username"] == "alice"


def test_wrong_password_is_401_problem(client: FlaskClient) -> None:
    """A wrong password and an unknown user both give the same 401 problem."""
    wrong = client.post("/auth/login", json={"username": "alice", "password": "nope"})
    unknown = client.post("/auth/login", json={"username": "mallory", "password": "nope"})
    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]


def test_login_body_must_be_json_with_both_fields(client: FlaskClient) -> None:
    """A form body is 400 and a missing password is 422 naming the field."""
    assert_problem(client.post("/auth/login", data={"username": "alice"}), 400)
    body = assert_problem(client.post("/auth/login", json={"username": "alice"}), 422)
    assert body["field"] == "password"


def test_protected_route_without_token_is_401(client: FlaskClient) -> None:
    """No Authorization header on a protected route gives 401 with WWW-Authenticate."""
    response = client.post("/api/quizzes/1/attempts")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_tampered_or_foreign_token_is_401(client: FlaskClient, embedded_app: Flask) -> None:
    """A token signed with another key, or not a bearer token at all, identifies nobody."""
    token = client.post(
        "/auth/login", json={"username": "alice", "password": "wonderland"}
    ).get_json()["token"]
    for header in (f"Bearer {token}x", f"Basic {token}", "Bearer"):
        assert_problem(client.get("/api/users/me/stats", headers={"Authorization": header}), 401)


def test_login_page_sets_session_for_pages_and_api(client: FlaskClient) -> None:
    """Signing in through the HTML form sets a session cookie that the API accepts too."""
    assert client.get("/login").status_code == 200
    response = client.post("/login", data={"username": "bob", "password": "builder", "next": "/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/api/users/me/stats").get_json()["username"] == "bob"
    client.post("/logout")
    assert_problem(client.get("/api/users/me/stats"), 401)


def test_login_page_rejects_wrong_password_and_open_redirects(client: FlaskClient) -> None:
    """A wrong password re-renders the form with 401; ``next`` never leaves the site."""
    assert client.post("/login", data={"username": "bob", "password": "x"}).status_code == 401
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/login", data={"username": "bob", "password": "builder", "next": target}
        )
        assert response.headers["Location"] == "/"


def test_identity_hooks_report_user_and_admin(
    embedded_app: Flask, alice: dict[str, str], admin: dict[str, str]
) -> None:
    """The extension's user_loader and admin_auth see the bearer token's user."""
    state = embedded_app.extensions["resilience"]
    with embedded_app.test_request_context(headers=alice):
        assert state.current_user_id() == current_user().id  # type: ignore[union-attr]
        assert state.is_admin() is False
    with embedded_app.test_request_context(headers=admin):
        assert state.is_admin() is True
    with embedded_app.test_request_context():
        assert state.current_user_id() is None


def test_admin_token_opens_the_extensions_admin_routes(
    client: FlaskClient, alice: dict[str, str], admin: dict[str, str]
) -> None:
    """The admin's bearer token passes the extension's admin_auth; a player's does not."""
    assert client.get("/resilience/admin/", headers=alice).status_code == 403
    assert client.get("/resilience/admin/", headers=admin).status_code == 200
