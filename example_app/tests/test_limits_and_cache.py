"""The example app's rate-limit presets and cached reads, along the HTTP contract."""

from __future__ import annotations

from flask.testing import FlaskClient

from example_app.db import get_session
from example_app.extensions import resilience
from example_app.models import Quiz

from .conftest import assert_problem
from .test_attempts import QUIZ, answers, correct_answers, start
from .test_jobs import SAMPLE, _upload, _wait


def _rename_behind_the_caches_back(client: FlaskClient, quiz_id: int, title: str) -> None:
    """Change a quiz in the database without going through the API (so nothing is invalidated)."""
    with client.application.app_context():
        session = get_session()
        quiz = session.get_one(Quiz, quiz_id)
        quiz.title = title
        session.commit()


def _quiz_body(title: str, category_id: int = 1) -> dict[str, object]:
    options = [{"text": "yes", "is_correct": True}, {"text": "no", "is_correct": False}]
    return {
        "title": title,
        "description": "",
        "category_id": category_id,
        "questions": [{"text": "Is this a question?", "options": options}],
    }


def test_sixth_login_attempt_is_429_with_headers(client: FlaskClient) -> None:
    """Five wrong passwords for one name are 401; the sixth is 429 with Retry-After and the
    RateLimit fields; another user name from the same client is not affected."""
    wrong = {"username": "alice", "password": "guess"}
    for attempt in range(5):
        response = client.post("/auth/login", json=wrong)
        assert response.status_code == 401, attempt
        assert response.headers["X-RateLimit-Remaining"] == str(4 - attempt)
        assert "Retry-After" not in response.headers
    blocked = client.post("/auth/login", json={"username": "alice", "password": "wonderland"})
    body = assert_problem(blocked, 429)
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    assert blocked.headers["RateLimit-Policy"] == '"login";q=5;w=900'
    assert blocked.headers["RateLimit"].startswith('"login";r=0;t=')
    assert body["retry_after"] == int(blocked.headers["Retry-After"])
    other = client.post("/auth/login", json={"username": "bob", "password": "builder"})
    assert other.status_code == 200


def test_html_login_form_is_limited_too(client: FlaskClient) -> None:
    """The login form takes passwords as well, so it shares the preset (and GET is not counted)."""
    for _ in range(3):
        assert client.get("/login").status_code == 200
    form = {"username": "bob", "password": "nope"}
    statuses = [client.post("/login", data=form).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_quiz_list_is_cached_until_an_admin_edit_invalidates_it(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    """A change made behind the cache's back stays unseen; an edit through the API shows at once,
    also in the per-category listing and the quiz's own detail."""
    listing = client.get("/api/quizzes").get_json()["quizzes"]
    by_category = client.get("/api/quizzes?category=1").get_json()["quizzes"]
    detail = client.get(f"/api/quizzes/{QUIZ}").get_json()
    _rename_behind_the_caches_back(client, QUIZ, "Renamed quietly")
    assert client.get("/api/quizzes").get_json()["quizzes"] == listing
    assert client.get("/api/quizzes?category=1").get_json()["quizzes"] == by_category
    assert client.get(f"/api/quizzes/{QUIZ}").get_json() == detail

    category_id = detail["category"]["id"]
    replaced = client.put(
        f"/api/quizzes/{QUIZ}", json=_quiz_body("Renamed loudly", category_id), headers=admin
    )
    assert replaced.status_code == 200
    titles = {q["id"]: q["title"] for q in client.get("/api/quizzes").get_json()["quizzes"]}
    assert titles[QUIZ] == "Renamed loudly"
    assert client.get(f"/api/quizzes/{QUIZ}").get_json()["title"] == "Renamed loudly"

    created = client.post("/api/quizzes", json=_quiz_body("Brand new"), headers=admin)
    new_id = created.get_json()["id"]
    assert new_id in {q["id"] for q in client.get("/api/quizzes").get_json()["quizzes"]}
    assert client.delete(f"/api/quizzes/{new_id}", headers=admin).status_code == 204
    assert new_id not in {q["id"] for q in client.get("/api/quizzes").get_json()["quizzes"]}
    assert_problem(client.get(f"/api/quizzes/{new_id}"), 404)


def test_quiz_detail_answers_304_to_its_etag(client: FlaskClient) -> None:
    """A cached quiz carries a strong ETag and Cache-Control; If-None-Match gets 304, no body."""
    first = client.get(f"/api/quizzes/{QUIZ}")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get(f"/api/quizzes/{QUIZ}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_upload_makes_the_new_quiz_appear_in_listings(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    """The parse job commits a quiz and invalidates the listings it changes."""
    before = {q["id"] for q in client.get("/api/quizzes").get_json()["quizzes"]}
    accepted = _upload(client, admin, "quiz.txt", SAMPLE.read_bytes())
    assert accepted.status_code == 202, accepted.get_json()
    assert _wait(client, accepted.get_json()["status_url"], admin)["status"] == "finished"
    after = client.get("/api/quizzes").get_json()["quizzes"]
    assert [q["title"] for q in after if q["id"] not in before] == ["Ocean Facts"]


def test_submission_refreshes_leaderboard_and_stats_and_ends_the_draft(
    client: FlaskClient, alice: dict[str, str]
) -> None:
    """Cached leaderboard and stats reflect a submission at once; the attempt's draft is gone
    and takes no more writes (409)."""
    assert client.get(f"/api/quizzes/{QUIZ}/leaderboard").get_json()["entries"] == []
    assert client.get("/api/users/me/stats", headers=alice).get_json()["attempts"] == 0
    attempt_id = start(client, alice).get_json()["attempt_id"]
    progress = f"/api/attempts/{attempt_id}/progress"
    assert (
        client.patch(progress, json={"current_question_index": 1}, headers=alice).status_code == 200
    )
    body = {"answers": answers(correct_answers(client, QUIZ)), "time_spent": 12}
    assert (
        client.post(f"/api/attempts/{attempt_id}/submit", json=body, headers=alice).status_code
        == 200
    )

    board = client.get(f"/api/quizzes/{QUIZ}/leaderboard").get_json()["entries"]
    assert [(e["username"], e["score"]) for e in board] == [("alice", 100.0)]
    assert client.get("/api/users/me/stats", headers=alice).get_json()["attempts"] == 1
    with client.application.app_context():
        assert resilience.autosave.get("attempt", attempt_id) is None
    assert_problem(client.get(progress, headers=alice), 409)
    assert_problem(client.patch(progress, json={"time_spent": 1}, headers=alice), 409)


def test_progress_saves_are_limited_to_120_a_minute(
    client: FlaskClient, alice: dict[str, str]
) -> None:
    """The autosave preset: 120 saves a minute per user pass, the 121st is 429."""
    url = f"/api/attempts/{start(client, alice).get_json()['attempt_id']}/progress"
    statuses = [
        client.patch(url, json={"time_spent": n}, headers=alice).status_code for n in range(121)
    ]
    assert statuses == [200] * 120 + [429]
    assert client.get(url, headers=alice).status_code == 429  # reading counts as well


def test_listing_is_limited_even_when_served_from_cache(client: FlaskClient) -> None:
    """60 listings a minute: cache hits are counted too, so the 61st is 429."""
    statuses = [client.get("/api/quizzes").status_code for _ in range(61)]
    assert statuses == [200] * 60 + [429]


def test_uploads_are_limited_to_ten_an_hour(client: FlaskClient, admin: dict[str, str]) -> None:
    """The upload preset counts every upload attempt; the eleventh within the hour is 429."""
    statuses = [_upload(client, admin, "notes.pdf", b"not a quiz").status_code for _ in range(11)]
    assert statuses == [422] * 10 + [429]


def test_submit_preset_is_one_submission_per_user_and_quiz(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    """The submit preset: a second submit of the same attempt is 409 (not 429); another attempt
    of the same quiz within 5 minutes is 429 with Retry-After; refused submits (422, 403) spend
    nothing; another quiz and another user have their own budgets."""
    body = {"answers": [], "time_spent": 3}
    first = start(client, alice).get_json()["attempt_id"]
    url = f"/api/attempts/{first}/submit"
    assert_problem(client.post(url, json={}, headers=alice), 422)  # refused: not counted
    assert_problem(client.post(url, json=body, headers=bob), 403)  # bob's budget untouched
    assert client.post(url, json=body, headers=alice).status_code == 200
    assert_problem(client.post(url, json=body, headers=alice), 409)

    second = start(client, alice).get_json()["attempt_id"]
    limited = client.post(f"/api/attempts/{second}/submit", json=body, headers=alice)
    problem = assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0 and problem["retry_after"] > 0
    assert "submit" in limited.headers["RateLimit-Policy"]

    other_quiz = start(client, alice, quiz_id=QUIZ + 1).get_json()["attempt_id"]
    assert (
        client.post(f"/api/attempts/{other_quiz}/submit", json=body, headers=alice).status_code
        == 200
    )
    bobs = start(client, bob).get_json()["attempt_id"]
    assert client.post(f"/api/attempts/{bobs}/submit", json=body, headers=bob).status_code == 200
