"""Attempt progress: the API route and the extension's autosave endpoint are the same draft."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import assert_problem


def start(client: FlaskClient, headers: dict[str, str]) -> int:
    response = client.post("/api/quizzes/1/attempts", headers=headers)
    assert response.status_code in (200, 201)
    attempt_id: int = response.get_json()["attempt_id"]
    return attempt_id


PROGRESS = {"current_question_index": 1, "answers": [{"question_id": 1, "option_id": 2}]}


def test_patch_then_get_restores_progress(client: FlaskClient, alice: dict[str, str]) -> None:
    """PATCH saves progress (version 1), GET restores it with its ETag."""
    url = f"/api/attempts/{start(client, alice)}/progress"
    assert_problem(client.get(url, headers=alice), 404)
    saved = client.patch(url, json={**PROGRESS, "time_spent": 12.5}, headers=alice)
    assert saved.status_code == 200
    assert saved.headers["ETag"] == '"1"'
    restored = client.get(url, headers=alice)
    assert restored.get_json()["payload"] == {**PROGRESS, "time_spent": 12.5}


def test_api_route_and_autosave_endpoint_share_the_draft(
    client: FlaskClient, alice: dict[str, str]
) -> None:
    """A save through one URL is read (and version-checked) through the other."""
    attempt_id = start(client, alice)
    client.patch(f"/api/attempts/{attempt_id}/progress", json=PROGRESS, headers=alice)
    other = f"/resilience/autosave/attempt/{attempt_id}"
    assert client.get(other, headers=alice).get_json()["payload"] == PROGRESS
    response = client.patch(
        f"/api/attempts/{attempt_id}/progress",
        json={"time_spent": 3},
        headers={**alice, "If-Match": '"0"'},
    )
    assert assert_problem(response, 412)["current_version"] == 1


def test_someone_elses_attempt_is_403(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    """Bob can neither read nor write Alice's progress."""
    url = f"/api/attempts/{start(client, alice)}/progress"
    client.patch(url, json=PROGRESS, headers=alice)
    assert_problem(client.get(url, headers=bob), 403)
    assert_problem(client.patch(url, json={"time_spent": 1}, headers=bob), 403)


def test_progress_is_validated(client: FlaskClient, alice: dict[str, str]) -> None:
    """The attempt kind's JSON Schema names the failing member; unknown fields are refused."""
    url = f"/api/attempts/{start(client, alice)}/progress"
    body = assert_problem(
        client.patch(url, json={"answers": [{"question_id": "x", "option_id": 1}]}, headers=alice),
        422,
    )
    assert body["path"] == "/answers/0/question_id"
    assert_problem(client.patch(url, json={"cheat": True}, headers=alice), 422)


def test_unknown_attempt_and_anonymous_caller(client: FlaskClient, alice: dict[str, str]) -> None:
    """No such attempt is 404; no token is 401; both problem JSON."""
    assert_problem(client.get("/api/attempts/999999/progress", headers=alice), 404)
    assert_problem(client.get("/resilience/autosave/attempt/999999", headers=alice), 404)
    assert_problem(client.get("/resilience/autosave/attempt/99999999999", headers=alice), 404)
    assert_problem(client.get("/api/attempts/1/progress"), 401)


def test_quiz_page_carries_autosave(client: FlaskClient) -> None:
    """The runner page loads autosave.js, points it at the attempt's draft and has the indicator."""
    client.post("/login", data={"username": "alice", "password": "wonderland"})
    html = client.get("/quiz/1").get_data(as_text=True)
    assert 'data-autosave-url="/resilience/autosave/attempt/' in html
    assert "/resilience/autosave/static/autosave.js" in html
    assert "data-resilience-autosave-indicator" in html
