"""Reads ``RESILIENCE_*`` settings from constructor overrides, ``app.config`` and the environment.

Precedence, highest first: keyword arguments given to ``Resilience(...)``, ``app.config``, then an
environment variable of the same name. A key that is *set* (in any of the three) but empty or
malformed raises :class:`ConfigurationError` naming it: an empty ``RESILIENCE_REDIS_URL`` that came
through a broken secret must stop the deploy, not quietly select an in-memory store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..errors import ConfigurationError

PREFIX = "RESILIENCE_"
T = TypeVar("T")
_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigReader:
    """Typed, validating access to one app's settings.

    >>> reader = ConfigReader({"RESILIENCE_MAX_RETRIES": "4"}, environ={})
    >>> reader.integer("RESILIENCE_MAX_RETRIES", default=2, minimum=0)
    4
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._config = config
        self._environ = os.environ if environ is None else environ
        self._overrides = dict(overrides or {})

    def raw(self, key: str) -> Any:
        """The value as given, or a sentinel when the key is set nowhere."""
        short = key.removeprefix(PREFIX).lower()
        if short in self._overrides:
            return self._overrides[short]
        if key in self._config:
            return self._config[key]
        if key in self._environ:
            return self._environ[key]
        return _MISSING

    def is_set(self, key: str) -> bool:
        """True when the key was given anywhere, even as an empty string or ``None``."""
        return self.raw(key) is not _MISSING

    def string(self, key: str, default: str | None) -> str | None:
        """A non-empty string; ``None`` in app config means "unset" and gives the default."""
        value = self.raw(key)
        if value is _MISSING or value is None:
            return default
        if not isinstance(value, str):
            raise ConfigurationError(key, value, "expected a string")
        if not value.strip():
            raise ConfigurationError(key, value, "is set but empty; unset it or give a value")
        return value.strip()

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        return int(self._number(key, default, int, minimum, maximum))

    def number(
        self,
        key: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        return float(self._number(key, default, float, minimum, maximum))

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is _MISSING or value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigurationError(key, value, "expected a boolean (true/false, 1/0, yes/no, on/off)")

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(key, default)
        assert value is not None
        if value not in choices:
            raise ConfigurationError(key, value, f"expected one of: {', '.join(choices)}")
        return value

    def parsed(self, key: str, default: T, parse: Callable[[str], T]) -> T:
        """A string run through ``parse``; any error it raises becomes a ConfigurationError."""
        value = self.raw(key)
        if value is _MISSING or value is None:
            return default
        text = self.string(key, None)
        assert text is not None
        try:
            return parse(text)
        except ConfigurationError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(key, value, str(exc) or type(exc).__name__) from exc

    def _number(
        self,
        key: str,
        default: Any,
        kind: type[Any],
        minimum: float | None,
        maximum: float | None,
    ) -> Any:
        value = self.raw(key)
        if value is _MISSING or value is None:
            return default
        if isinstance(value, bool):
            raise ConfigurationError(key, value, f"expected {kind.__name__}, got a boolean")
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(key, value, f"expected {kind.__name__}") from exc
        if kind is int and isinstance(value, float) and number != value:
            raise ConfigurationError(key, value, "expected a whole number")
        if minimum is not None and number < minimum:
            raise ConfigurationError(key, value, f"must be >= {minimum}")
        if maximum is not None and number > maximum:
            raise ConfigurationError(key, value, f"must be <= {maximum}")
        return number
