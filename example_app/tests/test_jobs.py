"""Uploads, reports and leaderboards run as background jobs (embedded mode's worker thread)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from example_app.extensions import resilience
from example_app.quiz_files import QuizFileError, parse

from .conftest import assert_problem

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "quiz.txt"


def _wait(client: FlaskClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """Poll a job's status URL until it ends (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        body: dict[str, Any] = client.get(url, headers=headers).get_json()
        if body["status"] in ("finished", "failed", "dead") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def _upload(client: FlaskClient, headers: dict[str, str], name: str, data: bytes) -> Any:
    return client.post(
        "/api/quizzes/upload",
        data={"file": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_upload_parses_the_sample_into_a_quiz(client: FlaskClient, admin: dict[str, str]) -> None:
    """Uploading the sample answers 202 with a job; the job finishes and the quiz exists."""
    response = _upload(client, admin, "quiz.txt", SAMPLE.read_bytes())
    assert response.status_code == 202
    accepted = response.get_json()
    assert set(accepted) == {"job_id", "status_url"}
    body = _wait(client, accepted["status_url"], admin)
    assert body["status"] == "finished" and body["task"] == "parse-quiz-file"
    assert body["progress"]["percent"] == 100 and body["result"]["questions"] == 4
    quiz = client.get(f"/api/quizzes/{body['result']['quiz_id']}").get_json()
    assert quiz["title"] == "Ocean Facts" and quiz["category"]["name"] == "Geography"


def test_docx_upload_is_parsed(client: FlaskClient, admin: dict[str, str]) -> None:
    """A .docx in the same format is read paragraph by paragraph."""
    import docx

    document = docx.Document()
    for line in SAMPLE.read_text().splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    accepted = _upload(client, admin, "quiz.docx", buffer.getvalue()).get_json()
    body = _wait(client, accepted["status_url"], admin)
    assert body["status"] == "finished" and body["result"]["title"] == "Ocean Facts"


def test_malformed_upload_fails_readably_and_creates_nothing(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    """A bad file ends the job as failed with the line in error, after one attempt, no quiz."""
    before = len(client.get("/api/quizzes").get_json()["quizzes"])
    bad = b"# Broken\nQ: Only one option?\n- [x] yes\nQ: next\n- [ ] a\n- [x] b\n"
    accepted = _upload(client, admin, "bad.md", bad).get_json()
    body = _wait(client, accepted["status_url"], admin)
    assert body["status"] == "failed" and body["attempts"] == 1
    assert "needs at least 2 options" in body["error"]
    assert len(client.get("/api/quizzes").get_json()["quizzes"]) == before


def test_upload_is_admin_only_and_checks_the_file(
    client: FlaskClient, admin: dict[str, str], alice: dict[str, str]
) -> None:
    """Players get 403; a missing file or a wrong extension is a 422 problem."""
    assert_problem(_upload(client, alice, "quiz.txt", b"x"), 403)
    assert_problem(client.post("/api/quizzes/upload", headers=admin), 422)
    assert_problem(_upload(client, admin, "quiz.pdf", b"x"), 422)


def test_report_runs_with_progress(make_example_app: Any, sqlite_url: str) -> None:
    """POST /api/reports answers 202 and generate-analytics finishes with a summary."""
    app = make_example_app(
        {"RESILIENCE_DATABASE_URL": sqlite_url, "EXAMPLE_ANALYTICS_SECONDS": 0.2}
    )
    client = app.test_client()
    token = client.post("/auth/login", json={"username": "admin", "password": "admin-demo"})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    response = client.post("/api/reports", headers=headers)
    assert response.status_code == 202
    body = _wait(client, response.get_json()["status_url"], headers)
    assert body["status"] == "finished" and body["task"] == "generate-analytics"
    assert body["progress"] == {"percent": 100.0, "message": "step 10 of 10"}
    assert body["result"]["quizzes"] >= 1


def test_the_format_parser_names_the_line() -> None:
    """Parse errors name the offending line, so the job's error is actionable."""
    try:
        parse("# T\nQ: q\n- [x] a\n- [ ] b\nnonsense\n")
    except QuizFileError as exc:
        assert str(exc).startswith("line 5:")
    else:  # pragma: no cover
        raise AssertionError("expected a QuizFileError")


def test_submit_enqueues_the_leaderboard_job(
    client: FlaskClient, admin: dict[str, str], alice: dict[str, str]
) -> None:
    """Submitting an attempt enqueues calculate-leaderboard, which the worker runs and which
    leaves the new board in the cache for the next read."""
    quiz = client.get("/api/quizzes").get_json()["quizzes"][0]
    attempt = client.post(f"/api/quizzes/{quiz['id']}/attempts", headers=alice).get_json()
    submitted = client.post(
        f"/api/attempts/{attempt['attempt_id']}/submit", json={"answers": []}, headers=alice
    )
    assert submitted.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = client.get("/resilience/admin/jobs?status=finished&queue=high", headers=admin)
        tasks = [job["task"] for job in listed.get_json()["jobs"]]
        if "calculate-leaderboard" in tasks:
            break
        time.sleep(0.05)
    assert "calculate-leaderboard" in tasks
    with client.application.app_context():
        warmed = resilience.cache.get(f"leaderboard:{quiz['id']}")
    assert [entry["username"] for entry in warmed] == ["alice"]
    board = client.get(f"/api/quizzes/{quiz['id']}/leaderboard").get_json()
    assert board["entries"] == warmed
