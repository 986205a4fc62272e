"""Who may read and write a draft: only its owner, as the kind's ``owner(key)`` says."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from .conftest import ALICE, URL, assert_problem

BOB = {"X-User": "bob"}


def test_anonymous_caller_is_401(client: FlaskClient) -> None:
    """Without a user there is no owner to compare with."""
    assert_problem(client.get(URL), 401)
    assert_problem(client.put(URL, json={"a": 1}), 401)


def test_someone_elses_draft_is_403_and_unchanged(client: FlaskClient) -> None:
    """Bob can neither read, write, beacon nor delete Alice's draft."""
    client.put(URL, json={"a": 1}, headers=ALICE)
    assert_problem(client.get(URL, headers=BOB), 403)
    assert_problem(client.put(URL, json={"a": "bob"}, headers=BOB), 403)
    assert_problem(client.patch(URL, json={"a": "bob"}, headers=BOB), 403)
    assert_problem(client.delete(URL, headers=BOB), 403)
    beacon = client.post(URL + "/beacon", data='{"payload": {"a": 2}}', headers=BOB)
    assert_problem(beacon, 403)
    assert client.get(URL, headers=ALICE).get_json()["payload"] == {"a": 1}


def test_hide_forbidden_answers_404(make_autosave_app: Callable[..., Flask]) -> None:
    """RESILIENCE_AUTOSAVE_HIDE_FORBIDDEN hides whether someone else's draft exists."""
    client = make_autosave_app({"RESILIENCE_AUTOSAVE_HIDE_FORBIDDEN": True}).test_client()
    client.put(URL, json={"a": 1}, headers=ALICE)
    assert_problem(client.get(URL, headers=BOB), 404)
    assert_problem(client.put(URL, json={"a": 2}, headers=BOB), 404)


def test_owner_that_aborts_404_is_a_404_problem(client: FlaskClient) -> None:
    """``owner(key)`` aborting 404 (no such attempt) reaches the client as problem JSON."""
    body = assert_problem(client.get("/resilience/autosave/note/missing-1", headers=ALICE), 404)
    assert body["instance"] == "/resilience/autosave/note/missing-1"
