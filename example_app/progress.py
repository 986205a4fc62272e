"""Attempt progress as an autosave draft: kind ``attempt``, key = the attempt id.

``/resilience/autosave/attempt/<id>`` (what the quiz page's autosave.js talks to) and
``/api/attempts/<id>/progress`` (the JSON API) are the same draft; only the attempt's user may
read or write it.
"""

from __future__ import annotations

from typing import Any

from flask import abort

from flask_resilience.problems import problem_response

from .db import get_session
from .extensions import resilience
from .models import Attempt

DRAFT_KIND = "attempt"
DRAFT_TTL_SECONDS = 7 * 24 * 3600
"""Abandoned drafts expire a week after their last save (``res.autosave.purge()`` reclaims them)."""

PROGRESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "current_question_index": {"type": "integer", "minimum": 0},
        "answers": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "properties": {
                    "question_id": {"type": "integer", "minimum": 1},
                    "option_id": {"type": "integer", "minimum": 1},
                },
                "required": ["question_id", "option_id"],
                "additionalProperties": False,
            },
        },
        "time_spent": {"type": "number", "minimum": 0},
    },
    "additionalProperties": False,
}


def attempt_owner(key: str) -> int:
    """The id of the user whose attempt ``key`` is; 404 problem when there is no such attempt,
    409 once it is submitted (its answers are final, so its draft takes no more writes)."""
    # ASCII digits only ("²".isdigit() is true), and nothing beyond an INTEGER column
    in_range = key.isascii() and key.isdigit() and len(key) <= 10 and int(key) < 2**31
    attempt = get_session().get(Attempt, int(key)) if in_range else None
    if attempt is None:
        abort(problem_response(404, detail=f"There is no attempt {key}."))
    if attempt.submitted_at is not None:
        abort(problem_response(409, detail=f"Attempt {key} is submitted; its answers are final."))
    return attempt.user_id


resilience.autosave.register(
    DRAFT_KIND, owner=attempt_owner, schema=PROGRESS_SCHEMA, ttl=DRAFT_TTL_SECONDS
)
