"""Rate limiting on Flask-Limiter: presets, key functions, headers, fallback."""

from .config import DEFAULT_LIMIT, RATELIMIT_DEFAULT, validate_config

__all__ = ["DEFAULT_LIMIT", "RATELIMIT_DEFAULT", "validate_config"]
