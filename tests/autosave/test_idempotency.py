"""Idempotency-Key: a retried write replays its first response instead of writing twice."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import ALICE, URL, assert_problem


def test_retry_with_the_same_key_replays_without_bumping(client: FlaskClient) -> None:
    """The same key and body twice: one version bump, the same body, marked as a replay."""
    headers = {**ALICE, "Idempotency-Key": "k1"}
    first = client.patch(URL, json={"n": 1}, headers=headers)
    second = client.patch(URL, json={"n": 1}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["ETag"] == '"1"'
    assert client.get(URL, headers=ALICE).get_json()["version"] == 1


def test_retry_of_a_conditional_write_replays_instead_of_412(client: FlaskClient) -> None:
    """The retry's If-Match is stale because the first try landed; it still gets the 200."""
    client.put(URL, json={"n": 0}, headers=ALICE)
    headers = {**ALICE, "Idempotency-Key": "k2", "If-Match": '"1"'}
    assert client.put(URL, json={"n": 1}, headers=headers).status_code == 200
    retry = client.put(URL, json={"n": 1}, headers=headers)
    assert retry.status_code == 200
    assert retry.get_json()["version"] == 2


def test_same_key_with_another_body_is_422(client: FlaskClient) -> None:
    """A reused key with a different body is refused and changes nothing."""
    headers = {**ALICE, "Idempotency-Key": "k3"}
    client.put(URL, json={"n": 1}, headers=headers)
    assert_problem(client.put(URL, json={"n": 2}, headers=headers), 422)
    assert client.get(URL, headers=ALICE).get_json()["payload"] == {"n": 1}


def test_refused_write_is_not_remembered(client: FlaskClient) -> None:
    """A 412 stores nothing, so the same key may succeed once the client has merged."""
    client.put(URL, json={"n": 0}, headers=ALICE)
    client.put(URL, json={"n": 1}, headers=ALICE)
    stale = {**ALICE, "Idempotency-Key": "k4", "If-Match": '"1"'}
    assert_problem(client.put(URL, json={"n": 9}, headers=stale), 412)
    fresh = {**ALICE, "Idempotency-Key": "k4", "If-Match": '"2"'}
    assert client.put(URL, json={"n": 9}, headers=fresh).status_code == 200


def test_keys_are_per_draft(client: FlaskClient) -> None:
    """The same key on two drafts is two writes."""
    headers = {**ALICE, "Idempotency-Key": "shared"}
    client.put(URL, json={"n": 1}, headers=headers)
    other = "/resilience/autosave/note/alice-2"
    response = client.put(other, json={"n": 1}, headers=headers)
    assert "Idempotent-Replayed" not in response.headers
