"""Checks of the JSON bodies clients send, turned into typed values or a 422 naming the field.

Kept apart from the views so the rules (one correct option per question, bounded sizes) are read in
one place and the views stay about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_TITLE = 200
MAX_TEXT = 2000
MAX_QUESTIONS = 100
MIN_OPTIONS, MAX_OPTIONS = 2, 10


class ValidationError(Exception):
    """A body field is missing or wrong; ``field`` is its JSON path, e.g. ``questions[0].text``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class OptionInput:
    text: str
    is_correct: bool


@dataclass(frozen=True, slots=True)
class QuestionInput:
    text: str
    options: list[OptionInput]


@dataclass(frozen=True, slots=True)
class QuizInput:
    title: str
    description: str
    category_id: int
    questions: list[QuestionInput]


@dataclass(frozen=True, slots=True)
class SubmissionInput:
    answers: dict[int, int]  # question id -> chosen option id
    time_spent: float | None


def quiz_input(body: dict[str, Any]) -> QuizInput:
    """A quiz as ``POST``/``PUT /api/quizzes`` accept it (PUT replaces the whole quiz)."""
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_TEXT:
        raise ValidationError("description", f"must be a string of at most {MAX_TEXT} characters")
    questions = body.get("questions")
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        raise ValidationError("questions", f"must be a list of 1 to {MAX_QUESTIONS} questions")
    return QuizInput(
        title=_text(body.get("title"), "title", MAX_TITLE),
        description=description,
        category_id=_identifier(body.get("category_id"), "category_id"),
        questions=[_question(q, f"questions[{i}]") for i, q in enumerate(questions)],
    )


def submission_input(body: dict[str, Any]) -> SubmissionInput:
    """The answers of ``POST /api/attempts/<id>/submit``; unanswered questions count as wrong."""
    answers = body.get("answers")
    if not isinstance(answers, list):
        raise ValidationError("answers", 'must be a list of {"question_id", "option_id"}')
    chosen: dict[int, int] = {}
    for i, answer in enumerate(answers):
        where = f"answers[{i}]"
        if not isinstance(answer, dict):
            raise ValidationError(where, 'must be an object {"question_id", "option_id"}')
        question_id = _identifier(answer.get("question_id"), f"{where}.question_id")
        if question_id in chosen:
            raise ValidationError(f"{where}.question_id", "answers this question twice")
        chosen[question_id] = _identifier(answer.get("option_id"), f"{where}.option_id")
    time_spent = body.get("time_spent")
    if time_spent is not None and (
        isinstance(time_spent, bool) or not isinstance(time_spent, int | float) or time_spent < 0
    ):
        raise ValidationError("time_spent", "must be a number of seconds, zero or more")
    return SubmissionInput(chosen, float(time_spent) if time_spent is not None else None)


def _question(value: Any, where: str) -> QuestionInput:
    if not isinstance(value, dict):
        raise ValidationError(where, 'must be an object {"text", "options"}')
    options = value.get("options")
    if not isinstance(options, list) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ValidationError(
            f"{where}.options", f"must be a list of {MIN_OPTIONS} to {MAX_OPTIONS} options"
        )
    parsed = [_option(o, f"{where}.options[{i}]") for i, o in enumerate(options)]
    if sum(o.is_correct for o in parsed) != 1:
        raise ValidationError(f"{where}.options", "exactly one option must have is_correct true")
    return QuestionInput(_text(value.get("text"), f"{where}.text", MAX_TEXT), parsed)


def _option(value: Any, where: str) -> OptionInput:
    if not isinstance(value, dict):
        raise ValidationError(where, 'must be an object {"text", "is_correct"}')
    is_correct = value.get("is_correct", False)
    if not isinstance(is_correct, bool):
        raise ValidationError(f"{where}.is_correct", "must be true or false")
    return OptionInput(_text(value.get("text"), f"{where}.text", MAX_TEXT), is_correct)


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationError(where, f"must be a non-empty string of at most {limit} characters")
    return value.strip()


def _identifier(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(where, "must be a positive integer id")
    return value
