"""Recommendations from a simulated flaky upstream, called through ``@resilient("recommender")``.

The upstream fails with a 503 at ``EXAMPLE_UPSTREAM_FAILURE_RATE`` and answers after about
``EXAMPLE_UPSTREAM_LATENCY_MS``; the policy gives each attempt ``EXAMPLE_UPSTREAM_TIMEOUT_MS``.
When every attempt fails, or the breaker is open, the fallback answers with the user's last good
recommendations (kept in the extension's Redis) or, failing that, the most attempted quizzes.
Turn the failure rate up and watch the breaker open in ``/metrics`` and the logs.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from flask_resilience.resilient import Fallback, resilient

from .db import get_session
from .extensions import resilience
from .models import Attempt, Quiz

LAST_GOOD_KEY = "example:recommendations:{user}"
LAST_GOOD_TTL_SECONDS = 24 * 3600


class UpstreamUnavailable(Exception):
    """The recommender answered 503; the status feeds the healer's failure signature."""

    status_code = 503


def ask_upstream(user_key: str, candidates: list[int]) -> tuple[list[int], str]:
    """The simulated network call: sleeps its latency, sometimes fails, ranks the candidates."""
    config = current_app.config
    latency = config["EXAMPLE_UPSTREAM_LATENCY_MS"] / 1000
    time.sleep(random.uniform(0.5 * latency, 1.5 * latency))
    if random.random() < config["EXAMPLE_UPSTREAM_FAILURE_RATE"]:
        raise UpstreamUnavailable("recommender answered 503")
    ranked = list(candidates)
    random.Random(user_key).shuffle(ranked)
    return ranked[:5], "live"


def _fallback(exc: Exception, user_key: str, candidates: list[int]) -> tuple[list[int], str]:
    """This user's last good answer, else an empty answer the view fills by popularity."""
    cached = resilience.redis.get(LAST_GOOD_KEY.format(user=user_key))
    if cached:
        return list(json.loads(cached)), "last_good"
    return [], "popular"


FALLBACK = Fallback(function=_fallback)


def recommendations(user_key: str) -> dict[str, Any]:
    """The view's answer: recommended quizzes, where they came from, and the breaker state."""
    session = get_session()
    quizzes = {q.id: q for q in session.scalars(select(Quiz))}
    timeout = current_app.config["EXAMPLE_UPSTREAM_TIMEOUT_MS"] / 1000
    policy = resilient("recommender", timeout=timeout, fallback=FALLBACK, healing=True)
    ranked, source = policy.call(ask_upstream, user_key, sorted(quizzes))
    if source == "live":
        key = LAST_GOOD_KEY.format(user=user_key)
        resilience.redis.set(key, json.dumps(ranked), ex=LAST_GOOD_TTL_SECONDS)
    elif source == "popular":
        ranked = _popular(session)
    breaker = policy.resolve().breaker
    return {
        "recommendations": [
            {"id": quiz_id, "title": quizzes[quiz_id].title}
            for quiz_id in ranked
            if quiz_id in quizzes
        ],
        "source": source,
        "breaker": breaker.state.value if breaker is not None else None,
    }


def _popular(session: Any) -> list[int]:
    """The five most attempted quizzes (the first five when nobody has played yet)."""
    rows = session.execute(
        select(Attempt.quiz_id, func.count(Attempt.id))
        .group_by(Attempt.quiz_id)
        .order_by(func.count(Attempt.id).desc(), Attempt.quiz_id)
        .limit(5)
    )
    popular = [quiz_id for quiz_id, _ in rows]
    return popular or list(session.scalars(select(Quiz.id).order_by(Quiz.id).limit(5)))
