"""Bad rate-limit settings stop init_app with a ConfigurationError naming the key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from flask_resilience import ConfigurationError

BAD = [
    ("RESILIENCE_RATELIMIT_DEFAULT", "100 per fortnight"),
    ("RESILIENCE_RATELIMIT_LOGIN", "five/minute"),
    ("RESILIENCE_RATELIMIT_SUBMIT", ""),
    ("RESILIENCE_RATELIMIT_ALLOW", "10.0.0.1/8"),
    ("RESILIENCE_RATELIMIT_ALLOW", "not-a-network"),
    ("RESILIENCE_RATELIMIT_STRATEGY", "token-bucket"),
    ("RESILIENCE_RATELIMIT_REPLICAS", 0),
    ("RESILIENCE_RATELIMIT_PROBE_SECONDS", -1),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_bad_value_names_the_key(
    make_app: Callable[..., Flask], sqlite_url: str, key: str, value: object
) -> None:
    """Each malformed rate-limit key fails at start with its name in the error."""
    with pytest.raises(ConfigurationError) as error:
        make_app({"RESILIENCE_DATABASE_URL": sqlite_url, key: value})
    assert error.value.key == key


def test_flask_limiter_keys_fill_in_for_ours(
    make_app: Callable[..., Flask], sqlite_url: str
) -> None:
    """RATELIMIT_DEFAULT and RATELIMIT_STRATEGY apply when our keys are unset."""
    app = make_app(
        {
            "RESILIENCE_DATABASE_URL": sqlite_url,
            "RATELIMIT_DEFAULT": "7/minute",
            "RATELIMIT_STRATEGY": "fixed-window",
        }
    )
    config = app.extensions["resilience"].capabilities["ratelimit"].config
    assert (config.default, config.strategy) == ("7/minute", "fixed-window")
