"""The uploaded question file format (``docs/example-app.md``): ``.txt``/``.md`` and ``.docx``.

Parsing is pure: text in, a :class:`ParsedQuiz` or a :class:`QuizFileError` naming the line out,
so the ``parse-quiz-file`` job can fail with a readable error before it writes anything.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from .validation import MAX_OPTIONS, MAX_QUESTIONS, MAX_TEXT, MAX_TITLE, MIN_OPTIONS

EXTENSIONS = (".txt", ".md", ".docx")
MAX_CATEGORY = 80
OPTION = re.compile(r"^- \[( |x|X)\] (.+)$")


class QuizFileError(ValueError):
    """The file does not follow the format; the message names the line."""


@dataclass
class ParsedQuestion:
    text: str
    options: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class ParsedQuiz:
    title: str = ""
    category: str = "Uploaded"
    description: list[str] = field(default_factory=list)
    questions: list[ParsedQuestion] = field(default_factory=list)


def file_text(filename: str, data: bytes) -> str:
    """The file's text: UTF-8 for ``.txt``/``.md``, paragraph text for ``.docx``."""
    lower = filename.lower()
    if lower.endswith(".docx"):
        try:
            import docx
        except ImportError as exc:  # pragma: no cover - the demo extra is missing
            raise QuizFileError("reading .docx needs python-docx (the demo extra)") from exc
        try:
            document = docx.Document(io.BytesIO(data))
        except Exception as exc:
            raise QuizFileError(f"not a readable .docx file ({type(exc).__name__})") from exc
        return "\n".join(paragraph.text for paragraph in document.paragraphs)
    if not lower.endswith((".txt", ".md")):
        raise QuizFileError(f"unsupported file type; use one of {', '.join(EXTENSIONS)}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QuizFileError("the file is not UTF-8 text") from exc


def parse(text: str) -> ParsedQuiz:
    """Parse the whole file; any error stops with the line number, before anything is created."""
    quiz = ParsedQuiz()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line:
            _line(quiz, line, number)
    _check_end(quiz)
    return quiz


def _line(quiz: ParsedQuiz, line: str, number: int) -> None:
    option = OPTION.match(line)
    if line.startswith("# ") and not quiz.title and not quiz.questions:
        quiz.title = _bounded(line[2:], MAX_TITLE, number)
    elif line.lower().startswith("category:") and not quiz.questions:
        quiz.category = _bounded(line.split(":", 1)[1], MAX_CATEGORY, number)
    elif line.startswith(">") and not quiz.questions:
        quiz.description.append(line[1:].strip())
    elif line.startswith("Q:"):
        _close_question(quiz, number)
        if len(quiz.questions) >= MAX_QUESTIONS:
            raise QuizFileError(f"line {number}: at most {MAX_QUESTIONS} questions")
        quiz.questions.append(ParsedQuestion(_bounded(line[2:], MAX_TEXT, number)))
    elif option and quiz.questions:
        options = quiz.questions[-1].options
        if len(options) >= MAX_OPTIONS:
            raise QuizFileError(f"line {number}: a question has at most {MAX_OPTIONS} options")
        options.append((_bounded(option.group(2), MAX_TEXT, number), option.group(1) != " "))
    else:
        raise QuizFileError(f"line {number}: unexpected line {line[:60]!r}")


def _close_question(quiz: ParsedQuiz, number: int) -> None:
    if not quiz.title:
        raise QuizFileError(f"line {number}: the file must start with '# <title>'")
    if not quiz.questions:
        return
    question = quiz.questions[-1]
    if len(question.options) < MIN_OPTIONS:
        raise QuizFileError(
            f"question {question.text[:40]!r}: needs at least {MIN_OPTIONS} options"
        )
    if sum(correct for _, correct in question.options) != 1:
        raise QuizFileError(f"question {question.text[:40]!r}: mark exactly one option [x]")


def _check_end(quiz: ParsedQuiz) -> None:
    if not quiz.questions:
        raise QuizFileError("the file has no questions ('Q: ...' lines)")
    _close_question(quiz, 0)


def _bounded(value: str, limit: int, number: int) -> str:
    text = value.strip()
    if not text or len(text) > limit:
        raise QuizFileError(f"line {number}: text must be 1 to {limit} characters")
    return text
