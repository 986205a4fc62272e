"""The JSON API: categories, quizzes (admins edit them), attempts, leaderboards and stats.

Reads are cached with ``res.cache`` and tagged, so the writes that change them invalidate exactly
those entries (in every process); the extension's rate-limit presets guard each route. Limit
decorators go above ``cached`` so a cache hit is still counted.

| route | cache (ttl, tags) | limit |
|---|---|---|
| ``GET /api/quizzes`` | 1 h, ``quiz:list`` | ``limits.listing`` |
| ``GET /api/quizzes/<id>`` | 2 h, ``quiz:<id>`` | the default |
| ``GET /api/quizzes/<id>/leaderboard`` | 5 min, ``leaderboard:<id>`` | the default |
| ``GET /api/users/me/stats`` | 15 min, ``user:<id>:stats`` | the default |
| ``PATCH /api/attempts/<id>/progress`` | | ``limits.autosave`` |
| ``POST /api/attempts/<id>/submit`` | invalidates leaderboard, stats | ``limits.submit`` per quiz |
| ``POST /api/quizzes/upload`` | | ``limits.upload`` |
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, abort, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from flask_resilience.problems import problem_response

from . import jobs as quiz_jobs
from . import recommender
from .auth import admin_required, current_user, login_required
from .db import get_session
from .extensions import resilience
from .models import Attempt, Category, Option, Question, Quiz
from .progress import DRAFT_KIND
from .quiz_files import EXTENSIONS as UPLOAD_EXTENSIONS
from .service import (
    AlreadySubmitted,
    leaderboard,
    load_quiz,
    start_attempt,
    submit_attempt,
    user_stats,
)
from .submissions import LEADERBOARD_TTL, after_submission, invalidate_quiz, leaderboard_key
from .validation import QuizInput, ValidationError, quiz_input, submission_input

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_UPLOAD_BYTES = 1_000_000
limits = resilience.limits
QUIZ_LIST_TTL = 3600
QUIZ_TTL = 2 * 3600
STATS_TTL = 15 * 60


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    return problem_response(422, title="Invalid request body", detail=exc.message, field=exc.field)


@bp.get("/categories")
@limits.listing
def categories() -> dict[str, Any]:
    rows = get_session().scalars(select(Category).order_by(Category.name))
    return {"categories": [{"id": c.id, "name": c.name} for c in rows]}


@bp.get("/quizzes")
@limits.listing
@resilience.cache.cached(
    ttl=QUIZ_LIST_TTL, key="quiz:list", query_args=["category"], tags=["quiz:list"]
)
def quizzes() -> dict[str, Any]:
    """Quizzes with their question counts, optionally of one ``?category=<id>``."""
    question_count = (
        select(func.count(Question.id)).where(Question.quiz_id == Quiz.id).scalar_subquery()
    )
    query = (
        select(Quiz, question_count)
        .options(selectinload(Quiz.category))
        .order_by(Quiz.title, Quiz.id)
    )
    category = request.args.get("category")
    if category is not None:
        if not category.isdigit():
            raise ValidationError("category", "must be a category id")
        query = query.where(Quiz.category_id == int(category))
    rows = get_session().execute(query)
    return {"quizzes": [quiz_summary(quiz, count) for quiz, count in rows]}


@bp.get("/quizzes/<int:quiz_id>")
@resilience.cache.cached(ttl=QUIZ_TTL, key="quiz:{quiz_id}", tags=["quiz:{quiz_id}"])
def quiz_detail(quiz_id: int) -> dict[str, Any]:
    """A quiz to take: its questions and options, never which option is correct."""
    return quiz_json(_quiz_or_404(quiz_id), include_answers=False)


@bp.post("/quizzes")
@admin_required
def create_quiz() -> tuple[dict[str, Any], int, dict[str, str]]:
    session = get_session()
    quiz = Quiz()
    _apply(quiz, _checked_quiz_input())
    session.add(quiz)
    session.commit()
    invalidate_quiz(quiz.id)
    location = url_for("api.quiz_detail", quiz_id=quiz.id)
    return quiz_json(quiz, include_answers=True), 201, {"Location": location}


@bp.put("/quizzes/<int:quiz_id>")
@admin_required
def replace_quiz(quiz_id: int) -> dict[str, Any]:
    """Replace the whole quiz, questions included (a partial update would be PATCH)."""
    quiz = _quiz_or_404(quiz_id)
    _apply(quiz, _checked_quiz_input())
    get_session().commit()
    invalidate_quiz(quiz_id)
    return quiz_json(quiz, include_answers=True)


@bp.delete("/quizzes/<int:quiz_id>")
@admin_required
def delete_quiz(quiz_id: int) -> tuple[str, int]:
    """Delete the quiz with its questions and attempts."""
    session = get_session()
    session.delete(_quiz_or_404(quiz_id))
    session.commit()
    invalidate_quiz(quiz_id)
    return "", 204


@bp.post("/quizzes/<int:quiz_id>/attempts")
@login_required
def create_attempt(quiz_id: int) -> tuple[dict[str, Any], int]:
    """Start an attempt; 200 with the open one instead when the user already has one."""
    user = current_user()
    assert user is not None
    attempt, created = start_attempt(get_session(), user, _quiz_or_404(quiz_id))
    return {"attempt_id": attempt.id, "started_at": attempt.started_at.isoformat()}, (
        201 if created else 200
    )


def _quiz_of_open_attempt() -> int | None:
    """The submit preset's resource: the quiz of the caller's own open attempt, else None.

    The budget is one submission per user and quiz (not per attempt), and a submit the view
    refuses anyway (no such attempt, another user's, already submitted: 404, 403, 409) is
    exempt, so a second submit of the same attempt is a 409 rather than a 429.
    """
    attempt = get_session().get(Attempt, (request.view_args or {}).get("attempt_id"))
    user = current_user()
    if attempt is None or user is None or attempt.user_id != user.id:
        return None
    return attempt.quiz_id if attempt.submitted_at is None else None


@bp.post("/attempts/<int:attempt_id>/submit")
@limits.submit.keyed(_quiz_of_open_attempt)
@login_required
def submit(attempt_id: int) -> dict[str, Any] | Response:
    session = get_session()
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        abort(problem_response(404, detail=f"There is no attempt {attempt_id}."))
    user = current_user()
    if user is None or attempt.user_id != user.id:
        return problem_response(403, detail="This attempt belongs to another user.")
    if attempt.submitted_at is not None:
        return _already_submitted()
    try:
        result = submit_attempt(session, attempt, submission_input(_json_body()))
    except AlreadySubmitted:
        return _already_submitted()
    after_submission(attempt, result.score)
    return result.as_json()


@bp.get("/quizzes/<int:quiz_id>/leaderboard")
def quiz_leaderboard(quiz_id: int) -> dict[str, Any]:
    """Each player's best attempt, cached until the next submission of the quiz (or 5 min);
    the ``calculate-leaderboard`` job that a submission enqueues puts the new board in place."""
    quiz = _quiz_or_404(quiz_id)
    key = leaderboard_key(quiz.id)
    entries = resilience.cache.get_or_set(
        key, lambda: leaderboard(get_session(), quiz.id), LEADERBOARD_TTL, tags=[key]
    )
    return {"quiz_id": quiz.id, "entries": entries}


@bp.get("/users/me/stats")
@login_required
def my_stats() -> dict[str, Any]:
    """The caller's totals, cached per user until their next submission (or 15 min)."""
    user = current_user()
    assert user is not None
    key = f"user:{user.id}:stats"
    stats: dict[str, Any] = resilience.cache.get_or_set(
        key, lambda: user_stats(get_session(), user), STATS_TTL, tags=[key], name="user:stats"
    )
    return stats


@bp.route("/attempts/<int:attempt_id>/progress", methods=["GET", "PATCH"])
@login_required
@limits.autosave
def progress(attempt_id: int) -> Response:
    """The attempt's autosave draft (the same as ``/resilience/autosave/attempt/<id>``): GET
    restores it, PATCH merges into it (RFC 7396), with If-Match, Idempotency-Key, 403/404/412."""
    response: Response = resilience.autosave.respond(DRAFT_KIND, attempt_id)
    return response


@bp.post("/quizzes/upload")
@admin_required
@limits.upload
def upload_quiz() -> tuple[dict[str, str], int] | Response:
    """Accept a question file (multipart ``file``) and parse it in the ``parse-quiz-file`` job."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("file", "send the question file as multipart field 'file'")
    if not upload.filename.lower().endswith(UPLOAD_EXTENSIONS):
        raise ValidationError("file", f"use one of {', '.join(UPLOAD_EXTENSIONS)}")
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return problem_response(413, detail=f"uploads are limited to {MAX_UPLOAD_BYTES} bytes")
    content = base64.b64encode(data).decode()
    return quiz_jobs.parse_quiz_file.enqueue(upload.filename, content).as_json(), 202


@bp.post("/reports")
@admin_required
def reports() -> tuple[dict[str, str], int]:
    """Start the slow ``generate-analytics`` report; poll its ``status_url``."""
    return quiz_jobs.generate_analytics.enqueue().as_json(), 202


@bp.get("/recommendations")
def recommendations() -> dict[str, Any]:
    """Recommended quizzes from a flaky upstream, through ``@resilient("recommender")``."""
    user = current_user()
    return recommender.recommendations(str(user.id) if user else "anonymous")


def quiz_summary(quiz: Quiz, question_count: int) -> dict[str, Any]:
    return {
        "id": quiz.id,
        "title": quiz.title,
        "description": quiz.description,
        "category": {"id": quiz.category.id, "name": quiz.category.name},
        "question_count": question_count,
    }


def quiz_json(quiz: Quiz, *, include_answers: bool) -> dict[str, Any]:
    """A quiz with questions in order; ``is_correct`` only for admins editing it."""

    def option(o: Option) -> dict[str, Any]:
        body: dict[str, Any] = {"id": o.id, "text": o.text}
        if include_answers:
            body["is_correct"] = o.is_correct
        return body

    return {
        **quiz_summary(quiz, len(quiz.questions)),
        "questions": [
            {
                "id": q.id,
                "text": q.text,
                "position": q.position,
                "options": [option(o) for o in q.options],
            }
            for q in quiz.questions
        ],
    }


def _quiz_or_404(quiz_id: int) -> Quiz:
    quiz = load_quiz(get_session(), quiz_id)
    if quiz is None:
        abort(problem_response(404, detail=f"There is no quiz {quiz_id}."))
    return quiz


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(
            problem_response(400, detail="Send a JSON object with Content-Type: application/json.")
        )
    return body


def _checked_quiz_input() -> QuizInput:
    data = quiz_input(_json_body())
    if get_session().get(Category, data.category_id) is None:
        raise ValidationError("category_id", f"there is no category {data.category_id}")
    return data


def _apply(quiz: Quiz, data: QuizInput) -> None:
    quiz.title = data.title
    quiz.description = data.description
    quiz.category = get_session().get_one(Category, data.category_id)
    quiz.questions = [
        Question(
            text=q.text,
            position=position,
            options=[Option(text=o.text, is_correct=o.is_correct) for o in q.options],
        )
        for position, q in enumerate(data.questions)
    ]


def _already_submitted() -> Response:
    return problem_response(409, detail="This attempt was already submitted.")
