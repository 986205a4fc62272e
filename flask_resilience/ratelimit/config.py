"""Rate-limit configuration keys, validated at ``init_app`` so a typo fails the deploy.

Our ``RESILIENCE_RATELIMIT_*`` keys come first; when one is unset, the matching Flask-Limiter key
(``RATELIMIT_DEFAULT``, ``RATELIMIT_STRATEGY``) is honoured, and every other ``RATELIMIT_*`` key
reaches Flask-Limiter unchanged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import parse_many
from limits.strategies import STRATEGIES

from .._foundation.config_reader import ConfigReader
from ..errors import ConfigurationError

RATELIMIT_DEFAULT = "RESILIENCE_RATELIMIT_DEFAULT"
RATELIMIT_STRATEGY = "RESILIENCE_RATELIMIT_STRATEGY"
RATELIMIT_KEY_PREFIX = "RESILIENCE_RATELIMIT_KEY_PREFIX"
RATELIMIT_ALLOW = "RESILIENCE_RATELIMIT_ALLOW"
RATELIMIT_REPLICAS = "RESILIENCE_RATELIMIT_REPLICAS"
RATELIMIT_PROBE_SECONDS = "RESILIENCE_RATELIMIT_PROBE_SECONDS"
RATELIMIT_LOGIN = "RESILIENCE_RATELIMIT_LOGIN"
RATELIMIT_UPLOAD = "RESILIENCE_RATELIMIT_UPLOAD"
RATELIMIT_LISTING = "RESILIENCE_RATELIMIT_LISTING"
RATELIMIT_AUTOSAVE = "RESILIENCE_RATELIMIT_AUTOSAVE"
RATELIMIT_SUBMIT = "RESILIENCE_RATELIMIT_SUBMIT"

DEFAULT_LIMIT = "100/minute"
DEFAULT_STRATEGY = "moving-window"
PRESET_KEYS = {
    "login": RATELIMIT_LOGIN,
    "upload": RATELIMIT_UPLOAD,
    "listing": RATELIMIT_LISTING,
    "autosave": RATELIMIT_AUTOSAVE,
    "submit": RATELIMIT_SUBMIT,
}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """The validated rate-limit settings of one app."""

    default: str
    strategy: str
    key_prefix: str | None
    allow: tuple[Network, ...]
    replicas: int
    probe_seconds: float
    presets: Mapping[str, str]
    """Preset name -> limit string, only for presets the app overrides."""

    def storage_prefix(self, app_name: str) -> str:
        """Each app and strategy gets its own Redis key space: strategies store different types
        under the same key, so two limiters sharing a prefix fail with WRONGTYPE."""
        return self.key_prefix or f"resilience:ratelimit:{app_name}:{self.strategy}"


def parse_limit(value: str) -> str:
    """Return ``value`` when the ``limits`` library can parse it (``"5/minute;100/hour"``)."""
    parse_many(value)
    return value


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs or addresses; host bits set (``10.0.0.1/8``) are an error."""
    return tuple(ipaddress.ip_network(part.strip()) for part in value.split(",") if part.strip())


def _strategy(value: str) -> str:
    if value not in STRATEGIES:
        raise ValueError(f"expected one of: {', '.join(sorted(STRATEGIES))}")
    return value


def read_config(reader: ConfigReader, flask_config: Mapping[str, Any]) -> RateLimitConfig:
    """Read and validate every rate-limit key; raises ConfigurationError naming the bad one."""
    default = reader.parsed(
        RATELIMIT_DEFAULT, flask_config.get("RATELIMIT_DEFAULT") or DEFAULT_LIMIT, parse_limit
    )
    strategy = reader.parsed(
        RATELIMIT_STRATEGY, flask_config.get("RATELIMIT_STRATEGY") or DEFAULT_STRATEGY, _strategy
    )
    if strategy not in STRATEGIES:
        raise ConfigurationError("RATELIMIT_STRATEGY", strategy, "unknown strategy")
    presets = {
        name: reader.parsed(key, "", parse_limit)
        for name, key in PRESET_KEYS.items()
        if reader.is_set(key)
    }
    return RateLimitConfig(
        default=default,
        strategy=strategy,
        key_prefix=reader.string(RATELIMIT_KEY_PREFIX, None),
        allow=reader.parsed(RATELIMIT_ALLOW, (), parse_networks),
        replicas=reader.integer(RATELIMIT_REPLICAS, 1, minimum=1),
        probe_seconds=reader.number(RATELIMIT_PROBE_SECONDS, 5.0, minimum=0.0),
        presets={name: value for name, value in presets.items() if value},
    )


def validate_config(reader: ConfigReader) -> str:
    """The default limit string; raises ConfigurationError naming the key when it does not parse."""
    return reader.parsed(RATELIMIT_DEFAULT, DEFAULT_LIMIT, parse_limit)
