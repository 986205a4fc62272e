"""Submitting an attempt records its score and time spent as metric series."""

from __future__ import annotations

from flask.testing import FlaskClient

from example_app.extensions import resilience

from .test_attempts import QUIZ, answers, correct_answers, start


def test_submit_records_score_and_time_spent(client: FlaskClient, alice: dict[str, str]) -> None:
    """A submission adds one point to quiz:<id>:score and one to quiz:<id>:time_spent."""
    key = correct_answers(client, QUIZ)
    attempt_id = start(client, alice).get_json()["attempt_id"]
    body = {"answers": answers(key), "time_spent": 42}
    response = client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=alice)
    assert response.status_code == 200
    with client.application.app_context():
        score = resilience.metrics.query(f"quiz:{QUIZ}:score")
        spent = resilience.metrics.query(f"quiz:{QUIZ}:time_spent")
    assert [(p.step, p.value) for p in score] == [(attempt_id, 100.0)]
    assert [(p.step, p.value) for p in spent] == [(attempt_id, 42.0)]
    assert score[0].labels == {"attempt_id": attempt_id}
