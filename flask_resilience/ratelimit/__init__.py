"""Rate limiting on Flask-Limiter: presets, key functions, headers, one round trip, fallback.

>>> from flask_resilience.ratelimit import exempt, limit, limits
>>> @limits.login
... def login(): ...
"""

from .config import DEFAULT_LIMIT, RATELIMIT_DEFAULT, RateLimitConfig, validate_config
from .policies import (
    PRESETS,
    DeductWhen,
    LimitDecorator,
    Policy,
    Presets,
    exempt,
    limit,
    limits,
    succeeded,
)
from .runtime import RateLimitRuntime, init_app

__all__ = [
    "DEFAULT_LIMIT",
    "PRESETS",
    "RATELIMIT_DEFAULT",
    "DeductWhen",
    "LimitDecorator",
    "Policy",
    "Presets",
    "RateLimitConfig",
    "RateLimitRuntime",
    "exempt",
    "init_app",
    "limit",
    "limits",
    "succeeded",
    "validate_config",
]
