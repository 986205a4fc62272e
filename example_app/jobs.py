"""The quiz platform's background jobs, declared with ``@resilience.jobs.task``.

| task | queue | attempts | enqueued by |
|---|---|---|---|
| ``parse-quiz-file`` | high | 3 | ``POST /api/quizzes/upload`` |
| ``calculate-leaderboard`` | high | 3 | ``POST /api/attempts/<id>/submit`` |
| ``generate-analytics`` | low | 1 | ``POST /api/reports`` |
| ``bulk-import`` | default | 2 | an example: many quizzes from one JSON document |
| ``send-notification`` | high | 5 | an example: a message to a user |

Arguments are JSON: an upload travels base64-encoded (uploads are capped at 1 MB).
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from flask_resilience.jobs import PermanentJobError, current_job_progress

from .db import get_session
from .extensions import resilience
from .models import Attempt, Category, Option, Question, Quiz
from .quiz_files import ParsedQuiz, QuizFileError, file_text, parse
from .service import leaderboard

logger = logging.getLogger("example_app.jobs")


@resilience.jobs.task(name="parse-quiz-file", queue="high", retries=2, base_delay=2.0)
def parse_quiz_file(filename: str, content_b64: str) -> dict[str, Any]:
    """Parse an uploaded file and create its quiz; a malformed file fails at once, creating
    nothing (the whole file is parsed before the single commit)."""
    current_job_progress(5, "reading the file")
    try:
        parsed = parse(file_text(filename, base64.b64decode(content_b64)))
    except QuizFileError as exc:
        raise PermanentJobError(str(exc)) from exc
    current_job_progress(60, f"parsed {len(parsed.questions)} questions")
    quiz = _create_quiz(parsed)
    current_job_progress(100, "quiz created")
    return {"quiz_id": quiz.id, "title": quiz.title, "questions": len(parsed.questions)}


@resilience.jobs.task(name="calculate-leaderboard", queue="high", retries=2, base_delay=1.0)
def calculate_leaderboard(quiz_id: int) -> dict[str, Any]:
    """Recompute a quiz's leaderboard after a submission and put it in the cache, so the next
    ``GET /api/quizzes/<id>/leaderboard`` is a hit instead of the query."""
    from .submissions import LEADERBOARD_TTL, leaderboard_key  # submissions enqueues this task

    entries = leaderboard(get_session(), quiz_id)
    key = leaderboard_key(quiz_id)
    resilience.cache.set(key, entries, LEADERBOARD_TTL, tags=[key])
    return {"quiz_id": quiz_id, "entries": len(entries), "top": entries[:3]}


@resilience.jobs.task(name="generate-analytics", queue="low", retries=0, timeout=600)
def generate_analytics() -> dict[str, Any]:
    """A slow report: takes ``EXAMPLE_ANALYTICS_SECONDS``, reporting progress ten times."""
    seconds = float(current_app.config.get("EXAMPLE_ANALYTICS_SECONDS", 2.0))
    for step in range(1, 11):
        time.sleep(seconds / 10)
        current_job_progress(step * 10, f"step {step} of 10")
    session = get_session()
    attempts = session.scalar(select(func.count(Attempt.id))) or 0
    average = session.scalar(select(func.avg(Attempt.score)))
    return {
        "quizzes": session.scalar(select(func.count(Quiz.id))) or 0,
        "attempts": attempts,
        "average_score": round(float(average), 1) if average is not None else None,
    }


@resilience.jobs.task(name="bulk-import", queue="default", retries=1)
def bulk_import(documents: list[str]) -> dict[str, Any]:
    """Create many quizzes from files in the upload format; all or nothing."""
    parsed = []
    for index, document in enumerate(documents):
        try:
            parsed.append(parse(document))
        except QuizFileError as exc:
            raise PermanentJobError(f"document {index}: {exc}") from exc
        current_job_progress(50 * (index + 1) / len(documents), f"parsed {index + 1}")
    ids = [quiz.id for quiz in _create_quizzes(parsed)]
    return {"quiz_ids": ids}


@resilience.jobs.task(name="send-notification", queue="high", retries=4, base_delay=1.0)
def send_notification(user_id: int, text: str) -> None:
    """Deliver a message to a user (the demo logs it; a real app calls its mail service)."""
    logger.info("notify user %s: %s", user_id, text)


def _create_quiz(parsed: ParsedQuiz) -> Quiz:
    return _create_quizzes([parsed])[0]


def _create_quizzes(parsed: list[ParsedQuiz]) -> list[Quiz]:
    session = get_session()
    created = []
    for item in parsed:
        category = session.scalar(select(Category).where(Category.name == item.category))
        if category is None:
            category = Category(name=item.category)
            session.add(category)
        quiz = Quiz(
            title=item.title,
            description=" ".join(item.description),
            category=category,
            questions=[
                Question(
                    text=question.text,
                    position=position,
                    options=[Option(text=t, is_correct=c) for t, c in question.options],
                )
                for position, question in enumerate(item.questions)
            ],
        )
        session.add(quiz)
        created.append(quiz)
    session.commit()
    resilience.cache.invalidate(tags=["quiz:list"])  # new quizzes: every listing is stale
    return created
