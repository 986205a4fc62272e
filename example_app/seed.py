"""Demo data: three users with published passwords, a few categories and quizzes.

Seeding is idempotent by natural key (user name, category name, quiz title), so it runs at every
embedded start and in every production release without duplicating rows or resetting a password
someone has changed since.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from .models import Category, Option, Question, Quiz, User


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    is_admin: bool


DEMO_USERS = (
    DemoUser("alice", "wonderland", False),
    DemoUser("bob", "builder", False),
    DemoUser("admin", "admin-demo", True),
)

# (category, title, description, [(question, [(option, is_correct), ...]), ...])
QuizSeed = tuple[str, str, str, list[tuple[str, list[tuple[str, bool]]]]]

DEMO_QUIZZES: tuple[QuizSeed, ...] = (
    (
        "Science",
        "The Solar System",
        "Planets, moons and the star they circle.",
        [
            (
                "Which planet is closest to the Sun?",
                [("Mercury", True), ("Venus", False), ("Mars", False)],
            ),
            (
                "How many planets are in the Solar System?",
                [("7", False), ("8", True), ("9", False)],
            ),
            (
                "What is the largest planet?",
                [("Saturn", False), ("Jupiter", True), ("Neptune", False)],
            ),
            (
                "Which planet has the moon Titan?",
                [("Saturn", True), ("Uranus", False), ("Mars", False)],
            ),
        ],
    ),
    (
        "Science",
        "Chemistry Basics",
        "Elements and what they are made of.",
        [
            ("What is the chemical symbol for gold?", [("Ag", False), ("Au", True), ("Gd", False)]),
            ("What is H2O?", [("Water", True), ("Hydrogen peroxide", False), ("Salt", False)]),
            (
                "Which gas do plants absorb?",
                [("Oxygen", False), ("Nitrogen", False), ("Carbon dioxide", True)],
            ),
        ],
    ),
    (
        "Geography",
        "World Capitals",
        "Match countries to their capital cities.",
        [
            (
                "What is the capital of Australia?",
                [("Sydney", False), ("Canberra", True), ("Melbourne", False)],
            ),
            (
                "What is the capital of Canada?",
                [("Ottawa", True), ("Toronto", False), ("Montreal", False)],
            ),
            (
                "What is the capital of Japan?",
                [("Kyoto", False), ("Osaka", False), ("Tokyo", True)],
            ),
            (
                "What is the capital of Kenya?",
                [("Nairobi", True), ("Mombasa", False), ("Kisumu", False)],
            ),
            (
                "What is the capital of Brazil?",
                [("Rio de Janeiro", False), ("Brasília", True), ("São Paulo", False)],
            ),
        ],
    ),
    (
        "Programming",
        "Python Fundamentals",
        "A few things every Python programmer meets early.",
        [
            ("What does len([1, 2, 3]) return?", [("2", False), ("3", True), ("6", False)]),
            (
                "Which keyword defines a function?",
                [("func", False), ("def", True), ("lambda", False)],
            ),
            ("What is the type of {}?", [("set", False), ("dict", True), ("list", False)]),
        ],
    ),
)


def seed(session: Session, *, admin_password: str = "admin-demo") -> dict[str, int]:
    """Insert whatever demo rows are missing and commit; returns how many of each were added."""
    added = {"users": 0, "categories": 0, "quizzes": 0}
    for demo in DEMO_USERS:
        if session.scalar(select(User.id).where(User.username == demo.username)) is None:
            password = admin_password if demo.is_admin else demo.password
            session.add(
                User(
                    username=demo.username,
                    password_hash=generate_password_hash(password),
                    is_admin=demo.is_admin,
                )
            )
            added["users"] += 1
    categories: dict[str, Category] = {}
    for name in dict.fromkeys(quiz[0] for quiz in DEMO_QUIZZES):
        category = session.scalar(select(Category).where(Category.name == name))
        if category is None:
            category = Category(name=name)
            session.add(category)
            added["categories"] += 1
        categories[name] = category
    for category_name, title, description, questions in DEMO_QUIZZES:
        if session.scalar(select(Quiz.id).where(Quiz.title == title)) is not None:
            continue
        session.add(
            Quiz(
                title=title,
                description=description,
                category=categories[category_name],
                questions=[
                    Question(
                        text=text,
                        position=position,
                        options=[Option(text=o, is_correct=ok) for o, ok in options],
                    )
                    for position, (text, options) in enumerate(questions)
                ],
            )
        )
        added["quizzes"] += 1
    session.commit()
    return added
