"""The whole flow in production mode: PostgreSQL, real Redis, explicit set-up commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import inspect

from example_app.extensions import resilience
from flask_resilience import schema

from .conftest import AppFactory, assert_problem, bearer
from .test_attempts import correct_answers
from .test_jobs import SAMPLE, _upload


def test_production_flow_on_postgresql_and_redis(
    make_example_app: AppFactory, db_url: str, redis_url: str
) -> None:
    """Nothing is created at start; ``db upgrade`` plus ``flask init`` make a working app."""
    app = make_example_app(
        {
            "RESILIENCE_DATABASE_URL": db_url,
            "RESILIENCE_REDIS_URL": redis_url,
            "SECRET_KEY": "production-test-key",
        }
    )
    with app.app_context():
        assert not any(
            t.startswith("example_") for t in inspect(resilience.engine).get_table_names()
        )

    schema.upgrade(app)
    runner = app.test_cli_runner()
    for _ in range(2):  # the release step may run on every deploy
        result = runner.invoke(args=["init"])
        assert result.exit_code == 0, result.output
    assert "added 0 users" in result.output

    client: FlaskClient = app.test_client()
    assert client.get("/healthz").status_code == 200
    alice = bearer(client, "alice", "wonderland")
    quizzes = client.get("/api/quizzes").get_json()["quizzes"]
    quiz_id = next(q["id"] for q in quizzes if q["title"] == "The Solar System")
    attempt = client.post(f"/api/quizzes/{quiz_id}/attempts", headers=alice)
    assert attempt.status_code == 201
    attempt_id = attempt.get_json()["attempt_id"]
    assert client.post(f"/api/quizzes/{quiz_id}/attempts", headers=alice).status_code == 200

    key = correct_answers(client, quiz_id)
    body = {"answers": [{"question_id": q, "option_id": o} for q, o in key.items()]}
    submitted = client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=alice)
    assert submitted.get_json() == {"score": 100.0, "correct": 4, "total": 4}
    assert_problem(client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=alice), 409)
    board = client.get(f"/api/quizzes/{quiz_id}/leaderboard").get_json()["entries"]
    assert board[0]["username"] == "alice"
    assert_problem(client.post("/api/quizzes", json={}, headers=alice), 403)


def test_two_instances_share_limits_and_cache_invalidation(
    make_example_app: AppFactory, db_url: str, redis_url: str
) -> None:
    """Behind a load balancer: login attempts count across instances, and an admin's edit on one
    instance invalidates the quiz list that the other one cached (real Redis, PostgreSQL)."""
    config = {
        "RESILIENCE_DATABASE_URL": db_url,
        "RESILIENCE_REDIS_URL": redis_url,
        "SECRET_KEY": "production-test-key",
    }
    first, second = make_example_app(config), make_example_app(config)
    schema.upgrade(first)
    assert first.test_cli_runner().invoke(args=["init"]).exit_code == 0
    one, two = first.test_client(), second.test_client()

    wrong = {"username": "bob", "password": "guess"}
    statuses = [
        (one if n % 2 else two).post("/auth/login", json=wrong).status_code for n in range(6)
    ]
    assert statuses == [401] * 5 + [429]

    admin = bearer(one, "admin", "admin-demo")
    listed = two.get("/api/quizzes").get_json()["quizzes"]
    quiz = two.get(f"/api/quizzes/{listed[0]['id']}").get_json()  # now cached in Redis
    body = {
        "title": "Renamed on the first instance",
        "description": quiz["description"],
        "category_id": quiz["category"]["id"],
        "questions": [
            {
                "text": q["text"],
                "options": [
                    {"text": o["text"], "is_correct": i == 0} for i, o in enumerate(q["options"])
                ],
            }
            for q in quiz["questions"]
        ],
    }
    assert one.put(f"/api/quizzes/{quiz['id']}", json=body, headers=admin).status_code == 200
    titles = {q["id"]: q["title"] for q in two.get("/api/quizzes").get_json()["quizzes"]}
    assert titles[quiz["id"]] == "Renamed on the first instance"
    assert two.get(f"/api/quizzes/{quiz['id']}").get_json()["title"] == body["title"]


def test_upload_runs_on_a_separate_worker_process(
    make_example_app: AppFactory, db_url: str, redis_url: str
) -> None:
    """Production mode: the web process only enqueues; a spawned ``flask resilience worker``
    (the Procfile's worker line, in burst mode) parses the upload, and the status URL says so."""
    config = {
        "RESILIENCE_DATABASE_URL": db_url,
        "RESILIENCE_REDIS_URL": redis_url,
        "SECRET_KEY": "production-test-key",
    }
    app = make_example_app(config)
    schema.upgrade(app)
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    client = app.test_client()
    admin = bearer(client, "admin", "admin-demo")
    accepted = _upload(client, admin, "quiz.txt", SAMPLE.read_bytes())
    assert accepted.status_code == 202
    status_url = accepted.get_json()["status_url"]
    assert client.get(status_url, headers=admin).get_json()["status"] == "queued"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESILIENCE_", "EXAMPLE_"))}
    env.update(
        RESILIENCE_DATABASE_URL=db_url,
        RESILIENCE_REDIS_URL=redis_url,
        EXAMPLE_SECRET_KEY="production-test-key",
    )
    worker = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "example_app", "resilience", "worker", "--burst"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    body = client.get(status_url, headers=admin).get_json()
    assert body["status"] == "finished", body
    assert body["progress"]["percent"] == 100
    titles = [q["title"] for q in client.get("/api/quizzes").get_json()["quizzes"]]
    assert "Ocean Facts" in titles
