"""What follows a change: cache invalidation, the draft's end, metrics and the leaderboard job.

The JSON API and the HTML pages both submit attempts and edit quizzes; the consequences live here
once so that neither path forgets one. Each runs after the change is committed, so an outage of
the cache, the metric store or the queue is logged rather than turned into a failed request for a
change that succeeded (the extension already degrades gracefully; this is the last line).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from . import jobs as quiz_jobs
from .extensions import resilience
from .models import Attempt
from .progress import DRAFT_KIND

logger = logging.getLogger(__name__)
LEADERBOARD_TTL = 5 * 60


def leaderboard_key(quiz_id: int) -> str:
    """The cache key of a quiz's leaderboard entries, which is also their invalidation tag."""
    return f"leaderboard:{quiz_id}"


def invalidate_quiz(quiz_id: int) -> None:
    """A quiz was created, replaced or deleted: its detail, every listing and its leaderboard."""
    resilience.cache.invalidate(tags=["quiz:list", f"quiz:{quiz_id}", leaderboard_key(quiz_id)])


def after_submission(attempt: Attempt, score: float) -> None:
    """A submitted attempt: drop its draft, refresh the boards, record metrics, rank it."""
    resilience.autosave.delete(DRAFT_KIND, attempt.id)
    resilience.cache.invalidate(
        tags=[leaderboard_key(attempt.quiz_id), f"user:{attempt.user_id}:stats"]
    )
    _record_attempt_metrics(attempt, score)
    quiz_jobs.calculate_leaderboard.enqueue(attempt.quiz_id)


def _record_attempt_metrics(attempt: Attempt, score: float) -> None:
    """Score and time spent as metric series ``quiz:<id>:score`` / ``quiz:<id>:time_spent``."""
    prefix = f"quiz:{attempt.quiz_id}"
    labels = {"attempt_id": attempt.id}
    try:
        resilience.metrics.record(f"{prefix}:score", score, step=attempt.id, labels=labels)
        if attempt.time_spent is not None:
            resilience.metrics.record(
                f"{prefix}:time_spent", attempt.time_spent, step=attempt.id, labels=labels
            )
    except SQLAlchemyError:
        logger.warning("could not record metrics of attempt %s", attempt.id, exc_info=True)
