"""The HTML pages: quiz list, login-gated quiz runner that submits without JavaScript."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from .test_attempts import correct_answers


def sign_in(client: FlaskClient) -> None:
    client.post("/login", data={"username": "alice", "password": "wonderland"})


def test_index_lists_quizzes_by_category(client: FlaskClient) -> None:
    """The home page shows every seeded quiz under its category, with no external assets."""
    html = client.get("/").get_data(as_text=True)
    for text in ("Science", "Geography", "The Solar System", "World Capitals"):
        assert text in html
    assert "http://" not in html and "https://" not in html


def test_quiz_page_asks_anonymous_users_to_sign_in(client: FlaskClient) -> None:
    """Anonymous visitors see the questions disabled and a sign-in link; no attempt is made."""
    html = client.get("/quiz/1").get_data(as_text=True)
    assert "Sign in</a> to take this quiz" in html
    assert "data-attempt-id" not in html
    assert client.get("/quiz/999").status_code == 404


def test_signed_in_user_takes_a_quiz_through_the_form(client: FlaskClient) -> None:
    """The page carries the open attempt's id and posting the radios scores it."""
    sign_in(client)
    html = client.get("/quiz/1").get_data(as_text=True)
    match = re.search(r'data-attempt-id="(\d+)"', html)
    assert match is not None
    form = {f"answer-{q}": str(o) for q, o in correct_answers(client, 1).items()}
    result = client.post("/quiz/1", data=form).get_data(as_text=True)
    assert "You got <strong>4</strong> of 4 right" in result
    # The attempt is closed: posting again starts over instead of scoring twice.
    assert client.post("/quiz/1", data=form).status_code == 302


def test_form_submit_of_another_attempt_within_five_minutes_is_429(client: FlaskClient) -> None:
    """The form has the API's submit rule: the next attempt of the same quiz within 5 minutes is
    refused with 429 and nothing scored; a post with no open attempt is a redirect, not a 429."""
    sign_in(client)
    form = {f"answer-{q}": str(o) for q, o in correct_answers(client, 1).items()}
    client.get("/quiz/1")
    assert client.post("/quiz/1", data=form).status_code == 200
    assert client.post("/quiz/1", data=form).status_code == 302  # no open attempt: not counted
    html = client.get("/quiz/1").get_data(as_text=True)  # opens the next attempt
    attempt_id = re.search(r'data-attempt-id="(\d+)"', html)
    assert attempt_id is not None
    limited = client.post("/quiz/1", data=form)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    stats = client.get("/api/users/me/stats").get_json()
    assert stats["attempts"] == 1  # the refused form scored nothing
