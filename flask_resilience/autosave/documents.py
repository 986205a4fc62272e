"""What a stored draft document may be: a JSON object, small enough, shallow enough, storable.

Checked before anything is written, on PostgreSQL and SQLite alike, so both databases refuse the
same documents with the same answer instead of one of them failing half-way (PostgreSQL's JSONB
rejects ``\\u0000``; SQLite would store it) or Python running out of stack on a deep document.

>>> from flask_resilience.autosave.kinds import DraftKinds
>>> kind = DraftKinds().register("note", owner=lambda key: "u1")
>>> check_document({"a": ["ok"]}, kind)
>>> check_document({"a": ["b\\u0000"]}, kind)
Traceback (most recent call last):
...
flask_resilience.autosave.kinds.DraftValidationError: text must not contain the NUL character
"""

from __future__ import annotations

import json
from typing import Any

from .kinds import DraftKind, DraftValidationError

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays in a draft; far beyond any form, far below the stack."""


class DraftError(Exception):
    """Base of every reason a draft write is refused; a refused write changes nothing."""


class DraftTooLarge(DraftError):
    """The draft would be bigger than its kind's ``max_bytes``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the draft would be {size} bytes; this kind allows {limit}")
        self.size = size
        self.limit = limit


def check_document(document: Any, kind: DraftKind) -> None:
    """Raise when ``document`` is not a JSON object, is too large, or fails the kind's schema."""
    if not isinstance(document, dict):
        raise DraftValidationError("a draft is a JSON object", path="")
    check_storable(document)
    size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    if size > kind.max_bytes:
        raise DraftTooLarge(size, kind.max_bytes)
    kind.validate(document)


def check_storable(document: Any) -> None:
    """Refuse a NUL character in any key or string, and nesting deeper than ``MAX_DEPTH``.

    Iterative, so a hostile document cannot exhaust the stack of the check meant to stop it.
    """
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise DraftValidationError("text must not contain the NUL character", path=path)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise DraftValidationError(f"nested deeper than {MAX_DEPTH} levels", path=path)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for name, member in items:
            member_path = f"{path}/{_escape(str(name))}"
            if isinstance(name, str) and "\x00" in name:
                raise DraftValidationError("a key must not contain the NUL character", path=path)
            stack.append((member, member_path, depth + 1))


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            members = item.values() if isinstance(item, dict) else item
            stack.extend((member, depth + 1) for member in members)
    return False


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")
