"""Kinds of draft a host app registers: who owns a key, what a valid payload is, how big it may be.

>>> kinds = DraftKinds()
>>> kind = kinds.register("note", owner=lambda key: "u1", schema={"type": "object"})
>>> kind.validate({"text": 1})
>>> kinds["note"].max_bytes
65536
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..errors import ConfigurationError

OwnerFunc = Callable[[str], Any]
Validator = Callable[[Any], object]
"""Raises (or returns ``False``) to refuse a payload; see :meth:`DraftKind.validate`."""
KIND_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
RESERVED_KINDS = frozenset({"static"})
DEFAULT_MAX_BYTES = 65536


class DraftValidationError(ValueError):
    """A payload a kind's validator refuses; ``path`` is a JSON Pointer to the failing member.

    Raise it from a callable ``schema`` to answer 422 with the path:
    ``raise DraftValidationError("must be positive", path="/time_spent")``.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True)
class DraftKind:
    """One registered kind: ``owner(key)`` names the user who may read and write draft ``key``."""

    name: str
    owner: OwnerFunc
    validator: Validator | None
    max_bytes: int
    ttl: timedelta | None

    def validate(self, payload: Any) -> None:
        """Raise DraftValidationError when the kind's schema or validator refuses ``payload``.

        A callable validator refuses by raising ``DraftValidationError`` (which names the path),
        any other ``ValueError`` (pydantic's ``ValidationError`` is one) or a
        ``jsonschema.ValidationError``, or by returning ``False``; each becomes a 422. Anything
        else it raises is a bug in the validator and propagates as one (a 500), so it is seen.
        """
        if self.validator is None:
            return
        try:
            verdict = self.validator(payload)
        except DraftValidationError:
            raise
        except ValueError as exc:
            raise DraftValidationError(str(exc) or type(exc).__name__) from exc
        except Exception as exc:
            refused = _from_jsonschema(exc)
            if refused is None:
                raise
            raise refused from exc
        if verdict is False:
            raise DraftValidationError(f"the {self.name} validator refused this draft")


class DraftKinds(Mapping[str, DraftKind]):
    """The kinds of one ``Resilience`` object, shared by every app it serves.

    Registering works before or after ``init_app``, at import time or in an app factory.
    """

    def __init__(self) -> None:
        self._kinds: dict[str, DraftKind] = {}

    def register(
        self,
        name: str,
        *,
        owner: OwnerFunc,
        schema: Mapping[str, Any] | Validator | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        ttl: float | timedelta | None = None,
    ) -> DraftKind:
        """Add (or replace) kind ``name``; bad arguments raise ConfigurationError at once."""
        if not isinstance(name, str) or not KIND_NAME.match(name) or name in RESERVED_KINDS:
            raise _bad(name, "name", name, f"must match {KIND_NAME.pattern} and not be 'static'")
        if not callable(owner):
            raise _bad(name, "owner", owner, "must be a callable owner(key) -> user id")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 2:
            raise _bad(name, "max_bytes", max_bytes, "must be an integer >= 2")
        kind = DraftKind(name, owner, _validator(name, schema), max_bytes, _ttl(name, ttl))
        self._kinds[name] = kind
        return kind

    def __getitem__(self, name: str) -> DraftKind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)


def _ttl(name: str, ttl: float | timedelta | None) -> timedelta | None:
    if ttl is None or isinstance(ttl, timedelta):
        value = ttl
    elif isinstance(ttl, int | float) and not isinstance(ttl, bool):
        value = timedelta(seconds=ttl)
    else:
        raise _bad(name, "ttl", ttl, "must be seconds or a timedelta")
    if value is not None and value <= timedelta(0):
        raise _bad(name, "ttl", ttl, "must be positive")
    return value


def _validator(name: str, schema: Mapping[str, Any] | Validator | None) -> Validator | None:
    """A callable validator as given, or one built from a JSON Schema (checked now, not later)."""
    if schema is None or (callable(schema) and not isinstance(schema, Mapping)):
        return schema
    if not isinstance(schema, Mapping):
        raise _bad(name, "schema", schema, "must be a JSON Schema dict or a callable")
    try:
        import jsonschema
    except ImportError as exc:  # pragma: no cover - jsonschema is a dependency
        raise _bad(name, "schema", "...", "a JSON Schema needs `pip install jsonschema`") from exc
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise _bad(name, "schema", "...", f"not a valid JSON Schema: {exc.message}") from exc
    checker = cls(dict(schema), format_checker=cls.FORMAT_CHECKER)

    def validate(payload: Any) -> None:
        error = jsonschema.exceptions.best_match(checker.iter_errors(payload))
        if error is not None:
            raise DraftValidationError(error.message, path=_pointer(error.absolute_path))

    return validate


def _from_jsonschema(exc: Exception) -> DraftValidationError | None:
    """A ``jsonschema.ValidationError`` a callable validator let out, as a 422 with its path."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema is a dependency
        return None
    if not isinstance(exc, jsonschema.ValidationError):
        return None
    return DraftValidationError(exc.message, path=_pointer(exc.absolute_path))


def _pointer(parts: Iterable[Any]) -> str:
    return "".join(f"/{_escape(part)}" for part in parts)


def _bad(name: object, what: str, value: object, reason: str) -> ConfigurationError:
    return ConfigurationError(f"autosave kind {name!r}: {what}", value, reason)


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")
