"""Attempts: start or resume, submit and score once, ownership, leaderboard and stats."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from example_app.db import get_session
from example_app.models import Option, Question

from .conftest import assert_problem

QUIZ = 1  # "The Solar System": four questions, seeded first


def correct_answers(client: FlaskClient, quiz_id: int) -> dict[int, int]:
    """Question id -> correct option id, read from the database (the API never reveals it)."""
    with client.application.app_context():
        rows = get_session().execute(
            select(Question.id, Option.id)
            .join(Option)
            .where(Question.quiz_id == quiz_id, Option.is_correct)
        )
        return {question_id: option_id for question_id, option_id in rows}


def answers(mapping: dict[int, int]) -> list[dict[str, int]]:
    return [{"question_id": q, "option_id": o} for q, o in mapping.items()]


def start(client: FlaskClient, headers: dict[str, str], quiz_id: int = QUIZ) -> Any:
    return client.post(f"/api/quizzes/{quiz_id}/attempts", headers=headers)


def test_start_creates_then_reuses_the_open_attempt(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    """The first start is 201, the next 200 with the same id; another user gets their own."""
    first = start(client, alice)
    again = start(client, alice)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json()["attempt_id"] == first.get_json()["attempt_id"]
    assert start(client, bob).get_json()["attempt_id"] != first.get_json()["attempt_id"]
    assert_problem(start(client, alice, quiz_id=999), 404)


def test_submit_scores_once_then_409(
    client: FlaskClient, alice: dict[str, str], admin: dict[str, str]
) -> None:
    """All-correct answers score 100; submitting again is 409; a new start opens a new attempt."""
    key = correct_answers(client, QUIZ)
    attempt_id = start(client, alice).get_json()["attempt_id"]
    body = {"answers": answers(key), "time_spent": 42}
    response = client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=alice)
    assert response.status_code == 200
    assert response.get_json() == {"score": 100.0, "correct": len(key), "total": len(key)}
    assert_problem(client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=alice), 409)
    assert start(client, alice).status_code == 201


def test_partial_and_wrong_answers_score_proportionally(
    client: FlaskClient, alice: dict[str, str], admin: dict[str, str]
) -> None:
    """One right answer of four, the rest unanswered, scores 25."""
    key = correct_answers(client, QUIZ)
    first_question = next(iter(key))
    attempt_id = start(client, alice).get_json()["attempt_id"]
    body = {"answers": answers({first_question: key[first_question]})}
    result = client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=alice).get_json()
    assert result == {"score": 25.0, "correct": 1, "total": 4}


def test_submit_checks_owner_existence_and_body(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    """Someone else's attempt is 403, an unknown one 404, foreign options and bad bodies 422/400."""
    attempt_id = start(client, alice).get_json()["attempt_id"]
    url = f"/api/attempts/{attempt_id}/submit"
    assert_problem(client.post(url, json={"answers": []}, headers=bob), 403)
    assert_problem(client.post("/api/attempts/999/submit", json={"answers": []}, headers=bob), 404)
    assert_problem(client.post(url, data="answers", headers=alice), 400)
    assert assert_problem(client.post(url, json={}, headers=alice), 422)["field"] == "answers"
    foreign = {"answers": [{"question_id": 99999, "option_id": 1}]}
    assert_problem(client.post(url, json=foreign, headers=alice), 422)
    negative = {"answers": [], "time_spent": -1}
    assert (
        assert_problem(client.post(url, json=negative, headers=alice), 422)["field"] == "time_spent"
    )
    assert_problem(client.post(url, json={"answers": []}), 401)
    assert client.post(url, json={"answers": []}, headers=alice).status_code == 200


def test_leaderboard_and_stats_follow_submissions(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str], admin: dict[str, str]
) -> None:
    """The leaderboard ranks each player's best attempt; stats sum the caller's attempts."""
    key = correct_answers(client, QUIZ)
    for headers, chosen in ((alice, key), (bob, {})):
        attempt_id = start(client, headers).get_json()["attempt_id"]
        body = {"answers": answers(chosen), "time_spent": 10}
        client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=headers)
    board = client.get(f"/api/quizzes/{QUIZ}/leaderboard").get_json()["entries"]
    assert [(e["rank"], e["username"], e["score"]) for e in board] == [
        (1, "alice", 100.0),
        (2, "bob", 0.0),
    ]
    stats = client.get("/api/users/me/stats", headers=alice).get_json()
    assert stats["attempts"] == 1
    assert stats["best_score"] == 100.0
    assert stats["total_time_spent"] == 10.0
    assert_problem(client.get("/api/quizzes/999/leaderboard"), 404)
