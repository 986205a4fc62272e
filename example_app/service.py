"""Attempts, scoring, leaderboards and stats as plain functions over a SQLAlchemy ``Session``.

Both the JSON API and the HTML quiz page call these, so the rules (one open attempt per user and
quiz, one submission per attempt, how a score is computed) exist once and are safe under races.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .models import Attempt, Question, Quiz, User, as_utc, utcnow
from .validation import SubmissionInput, ValidationError

LEADERBOARD_SIZE = 10


class AlreadySubmitted(Exception):
    """The attempt was submitted before (by an earlier or a concurrent request)."""


@dataclass(frozen=True, slots=True)
class Result:
    score: float
    correct: int
    total: int

    def as_json(self) -> dict[str, Any]:
        return {"score": self.score, "correct": self.correct, "total": self.total}


def load_quiz(session: Session, quiz_id: int) -> Quiz | None:
    """A quiz with its questions and options loaded in two extra queries, not one per question."""
    return session.scalar(
        select(Quiz)
        .where(Quiz.id == quiz_id)
        .options(selectinload(Quiz.questions).selectinload(Question.options))
    )


def start_attempt(session: Session, user: User, quiz: Quiz) -> tuple[Attempt, bool]:
    """The user's open attempt of ``quiz``, created if there is none; ``True`` when created."""
    existing = find_open_attempt(session, user.id, quiz.id)
    if existing is not None:
        return existing, False
    attempt = Attempt(user_id=user.id, quiz_id=quiz.id, started_at=utcnow())
    session.add(attempt)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request created the open attempt first (unique partial index): use it.
        session.rollback()
        existing = find_open_attempt(session, user.id, quiz.id)
        if existing is None:
            raise
        return existing, False
    return attempt, True


def open_attempt(session: Session, user: User, quiz: Quiz) -> Attempt | None:
    """The user's unsubmitted attempt of ``quiz``, if any."""
    return find_open_attempt(session, user.id, quiz.id)


def submit_attempt(session: Session, attempt: Attempt, submission: SubmissionInput) -> Result:
    """Score ``attempt`` and close it; raises AlreadySubmitted or ValidationError.

    The closing UPDATE only matches an open attempt, so of two racing submissions exactly one wins.
    """
    if attempt.submitted_at is not None:
        raise AlreadySubmitted
    quiz = load_quiz(session, attempt.quiz_id)
    assert quiz is not None  # attempts are deleted with their quiz
    result = score(quiz, submission.answers)
    now = utcnow()
    time_spent = submission.time_spent
    if time_spent is None:
        time_spent = max((now - as_utc(attempt.started_at)).total_seconds(), 0.0)
    closed = session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.submitted_at.is_(None))
        .values(
            submitted_at=now,
            score=result.score,
            correct=result.correct,
            total=result.total,
            time_spent=round(time_spent, 3),
        )
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise AlreadySubmitted
    session.commit()
    session.refresh(attempt)
    return result


def score(quiz: Quiz, answers: dict[int, int]) -> Result:
    """Count correct answers; a percentage score rounded to one decimal (0 for an empty quiz)."""
    questions = {q.id: q for q in quiz.questions}
    correct = 0
    for question_id, option_id in answers.items():
        question = questions.get(question_id)
        if question is None:
            raise ValidationError("answers", f"question {question_id} is not in this quiz")
        option = next((o for o in question.options if o.id == option_id), None)
        if option is None:
            raise ValidationError(
                "answers", f"option {option_id} is not an option of question {question_id}"
            )
        correct += option.is_correct
    total = len(questions)
    return Result(round(100 * correct / total, 1) if total else 0.0, correct, total)


def leaderboard(session: Session, quiz_id: int) -> list[dict[str, Any]]:
    """Each user's best submitted attempt (higher score, then less time), best first."""
    ranked = (
        select(
            Attempt.user_id,
            Attempt.score,
            Attempt.time_spent,
            Attempt.submitted_at,
            func.row_number()
            .over(
                partition_by=Attempt.user_id,
                order_by=(Attempt.score.desc(), Attempt.time_spent, Attempt.submitted_at),
            )
            .label("position"),
        )
        .where(Attempt.quiz_id == quiz_id, Attempt.submitted_at.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(User.username, ranked.c.score, ranked.c.time_spent)
        .join(User, User.id == ranked.c.user_id)
        .where(ranked.c.position == 1)
        .order_by(ranked.c.score.desc(), ranked.c.time_spent, ranked.c.submitted_at)
        .limit(LEADERBOARD_SIZE)
    )
    return [
        {"rank": rank, "username": username, "score": score, "time_spent": time_spent}
        for rank, (username, score, time_spent) in enumerate(rows, start=1)
    ]


def user_stats(session: Session, user: User) -> dict[str, Any]:
    """Totals over the user's submitted attempts."""
    submitted = Attempt.submitted_at.is_not(None)
    attempts, quizzes, average, best, time_spent = session.execute(
        select(
            func.count(Attempt.id),
            func.count(func.distinct(Attempt.quiz_id)),
            func.avg(Attempt.score),
            func.max(Attempt.score),
            func.coalesce(func.sum(Attempt.time_spent), 0.0),
        ).where(Attempt.user_id == user.id, submitted)
    ).one()
    return {
        "user_id": user.id,
        "username": user.username,
        "attempts": attempts,
        "quizzes_taken": quizzes,
        "average_score": round(float(average), 1) if average is not None else None,
        "best_score": best,
        "total_time_spent": round(float(time_spent), 3),
    }


def find_open_attempt(session: Session, user_id: int, quiz_id: int) -> Attempt | None:
    return session.scalar(
        select(Attempt).where(
            Attempt.user_id == user_id, Attempt.quiz_id == quiz_id, Attempt.submitted_at.is_(None)
        )
    )
