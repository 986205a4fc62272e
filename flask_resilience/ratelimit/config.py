"""Rate-limit configuration keys, validated at ``init_app`` so a typo fails the deploy."""

from __future__ import annotations

from limits import parse_many

from .._foundation.config_reader import ConfigReader

RATELIMIT_DEFAULT = "RESILIENCE_RATELIMIT_DEFAULT"
DEFAULT_LIMIT = "100/minute"


def parse_limit(value: str) -> str:
    """Return ``value`` when the ``limits`` library can parse it (``"5/minute;100/hour"``)."""
    parse_many(value)
    return value


def validate_config(reader: ConfigReader) -> str:
    """The default limit string; raises ConfigurationError naming the key when it does not parse."""
    return reader.parsed(RATELIMIT_DEFAULT, DEFAULT_LIMIT, parse_limit)
