"""Categories and quizzes: reading, admin-only editing and validation."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import assert_problem


def new_quiz(category_id: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Rivers",
        "description": "Long ones.",
        "category_id": category_id,
        "questions": [
            {
                "text": "Longest river in Africa?",
                "options": [
                    {"text": "Nile", "is_correct": True},
                    {"text": "Congo", "is_correct": False},
                ],
            }
        ],
    }
    body.update(overrides)
    return body


def test_categories_are_listed(client: FlaskClient) -> None:
    """The seeded categories are listed by name."""
    names = [c["name"] for c in client.get("/api/categories").get_json()["categories"]]
    assert names == sorted(names)
    assert {"Science", "Geography", "Programming"} <= set(names)


def test_quizzes_filter_by_category(client: FlaskClient) -> None:
    """``?category=<id>`` lists only that category's quizzes; a non-id is 422."""
    every = client.get("/api/quizzes").get_json()["quizzes"]
    category_id = every[0]["category"]["id"]
    some = client.get(f"/api/quizzes?category={category_id}").get_json()["quizzes"]
    assert some and all(q["category"]["id"] == category_id for q in some)
    assert len(some) < len(every)
    assert assert_problem(client.get("/api/quizzes?category=x"), 422)["field"] == "category"


def test_quiz_detail_hides_correct_answers(client: FlaskClient) -> None:
    """A quiz's questions and options come without any hint of which option is correct."""
    quiz = client.get("/api/quizzes/1").get_json()
    assert len(quiz["questions"]) >= 3
    assert [q["position"] for q in quiz["questions"]] == sorted(
        q["position"] for q in quiz["questions"]
    )
    for question in quiz["questions"]:
        for option in question["options"]:
            assert set(option) == {"id", "text"}


def test_unknown_quiz_and_unknown_api_path_are_404_problems(client: FlaskClient) -> None:
    """A missing quiz and a path no route matches both answer problem JSON."""
    assert_problem(client.get("/api/quizzes/999"), 404)
    assert_problem(client.get("/api/no-such-thing"), 404)
    assert_problem(client.get("/auth/no-such-thing"), 404)
    assert_problem(client.delete("/api/categories"), 405)


def test_extension_keeps_its_own_problem_errors(client: FlaskClient) -> None:
    """The app's handler chains to the extension's, so /resilience errors stay problem JSON."""
    assert_problem(client.get("/resilience/no-such-thing"), 404)


def test_pages_keep_html_errors(client: FlaskClient) -> None:
    """Outside /api and /auth an unknown path stays an ordinary HTML 404."""
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_admin_creates_replaces_and_deletes_a_quiz(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    """An admin's POST, PUT and DELETE change what GET returns."""
    created = client.post("/api/quizzes", json=new_quiz(), headers=admin)
    assert created.status_code == 201
    quiz_id = created.get_json()["id"]
    assert created.headers["Location"] == f"/api/quizzes/{quiz_id}"
    assert created.get_json()["questions"][0]["options"][0]["is_correct"] is True

    replaced = client.put(f"/api/quizzes/{quiz_id}", json=new_quiz(title="Lakes"), headers=admin)
    assert replaced.status_code == 200
    assert client.get(f"/api/quizzes/{quiz_id}").get_json()["title"] == "Lakes"

    assert client.delete(f"/api/quizzes/{quiz_id}", headers=admin).status_code == 204
    assert_problem(client.get(f"/api/quizzes/{quiz_id}"), 404)


def test_players_cannot_edit_quizzes(client: FlaskClient, alice: dict[str, str]) -> None:
    """POST, PUT and DELETE on quizzes are 403 problems for a player and 401 for nobody."""
    assert_problem(client.post("/api/quizzes", json=new_quiz(), headers=alice), 403)
    assert_problem(client.put("/api/quizzes/1", json=new_quiz(), headers=alice), 403)
    assert_problem(client.delete("/api/quizzes/1", headers=alice), 403)
    assert_problem(client.post("/api/quizzes", json=new_quiz()), 401)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"category_id": 999}, "category_id"),
        ({"category_id": "1"}, "category_id"),
        ({"questions": []}, "questions"),
        ({"questions": [{"text": "Q?", "options": [{"text": "only"}]}]}, "questions[0].options"),
        (
            {"questions": [{"text": "Q?", "options": [{"text": "a"}, {"text": "b"}]}]},
            "questions[0].options",
        ),
        (
            {
                "questions": [
                    {"text": " ", "options": [{"text": "a", "is_correct": True}, {"text": "b"}]}
                ]
            },
            "questions[0].text",
        ),
    ],
)
def test_invalid_quiz_is_422_naming_the_field(
    client: FlaskClient, admin: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    """Each invalid quiz body is refused with the JSON path of the failing field."""
    response = client.post("/api/quizzes", json=new_quiz(**overrides), headers=admin)
    assert assert_problem(response, 422)["field"] == field


def test_non_json_quiz_body_is_400(client: FlaskClient, admin: dict[str, str]) -> None:
    """A quiz sent as a form or as a JSON list is a 400 problem."""
    assert_problem(client.post("/api/quizzes", data={"title": "x"}, headers=admin), 400)
    assert_problem(client.put("/api/quizzes/1", json=[1], headers=admin), 400)
