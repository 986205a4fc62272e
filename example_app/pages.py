"""The HTML pages: the quiz list, and a quiz runner that works without JavaScript.

The runner posts a plain form and is scored by the same service functions as the API; autosave.js
layers progress saving on top of it without changing the form.
"""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .auth import current_user
from .db import get_session
from .extensions import resilience
from .models import Quiz
from .service import (
    AlreadySubmitted,
    find_open_attempt,
    load_quiz,
    open_attempt,
    start_attempt,
    submit_attempt,
)
from .submissions import after_submission
from .validation import SubmissionInput

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """Quizzes grouped by category."""
    quizzes = get_session().scalars(
        select(Quiz).options(selectinload(Quiz.category)).order_by(Quiz.category_id, Quiz.title)
    )
    groups = [(category, list(items)) for category, items in groupby(quizzes, lambda q: q.category)]
    return render_template("index.html", groups=groups, user=current_user())


@bp.get("/quiz/<int:quiz_id>")
def quiz(quiz_id: int) -> ResponseReturnValue:
    """Show the quiz; a signed-in user gets (or resumes) an attempt and can answer it."""
    session = get_session()
    found = load_quiz(session, quiz_id)
    if found is None:
        abort(404)
    user = current_user()
    attempt = start_attempt(session, user, found)[0] if user is not None else None
    return render_template("quiz.html", quiz=found, user=user, attempt=attempt)


def _quiz_with_open_attempt() -> int | None:
    """The submit preset's resource for the form: the quiz, when the user has an open attempt of
    it; else None (exempt: the view redirects, it scores nothing)."""
    user = current_user()
    quiz_id = (request.view_args or {}).get("quiz_id")
    if user is None or not isinstance(quiz_id, int):
        return None
    return quiz_id if find_open_attempt(get_session(), user.id, quiz_id) is not None else None


@bp.post("/quiz/<int:quiz_id>")
@resilience.limits.submit.keyed(_quiz_with_open_attempt)  # as the API: per user and quiz
def submit_quiz(quiz_id: int) -> ResponseReturnValue:
    """Score the user's open attempt from the form's radio buttons (``answer-<question id>``)."""
    session = get_session()
    found = load_quiz(session, quiz_id)
    if found is None:
        abort(404)
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login_page", next=request.path))
    attempt = open_attempt(session, user, found)
    if attempt is None:  # submitted meanwhile (another tab, the API): start afresh
        return redirect(url_for("pages.quiz", quiz_id=quiz_id))
    answers = {
        q.id: int(value)
        for q in found.questions
        if (value := request.form.get(f"answer-{q.id}", "")).isdigit()
    }
    try:
        result = submit_attempt(session, attempt, SubmissionInput(answers, None))
    except AlreadySubmitted:
        return redirect(url_for("pages.quiz", quiz_id=quiz_id))
    after_submission(attempt, result.score)
    return render_template("result.html", quiz=found, user=user, result=result, attempt=attempt)
