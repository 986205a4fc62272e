"""ConfigReader: precedence and validation of RESILIENCE_* keys."""

from __future__ import annotations

import pytest

from flask_resilience import ConfigurationError
from flask_resilience._foundation.config_reader import ConfigReader


def test_override_beats_app_config_beats_environment() -> None:
    """Constructor keywords win over app.config, which wins over the environment."""
    env = {"RESILIENCE_ENV": "staging"}
    assert ConfigReader({}, env).string("RESILIENCE_ENV", None) == "staging"
    assert ConfigReader({"RESILIENCE_ENV": "production"}, env).string("RESILIENCE_ENV", None) == (
        "production"
    )
    reader = ConfigReader({"RESILIENCE_ENV": "production"}, env, {"env": "development"})
    assert reader.string("RESILIENCE_ENV", None) == "development"


def test_empty_string_is_an_error_not_a_default() -> None:
    """A key set to an empty string raises instead of silently using the default."""
    with pytest.raises(ConfigurationError) as info:
        ConfigReader({}, {"RESILIENCE_REDIS_URL": "  "}).string("RESILIENCE_REDIS_URL", "x")
    assert info.value.key == "RESILIENCE_REDIS_URL"
    assert "empty" in str(info.value)


def test_none_in_app_config_means_unset() -> None:
    """None in app.config is how a host says 'use the default'."""
    assert ConfigReader({"RESILIENCE_X": None}, {}).string("RESILIENCE_X", "d") == "d"


@pytest.mark.parametrize(("value", "expected"), [("3", 3), (7, 7), (" 12 ", 12)])
def test_integer_parses_strings_and_numbers(value: object, expected: int) -> None:
    """Integers come from env strings or typed app config alike."""
    assert ConfigReader({"RESILIENCE_N": value}, {}).integer("RESILIENCE_N", 0) == expected


@pytest.mark.parametrize("value", ["three", "1.5", True, 2.5])
def test_integer_rejects_non_integers(value: object) -> None:
    """Words, fractions and booleans are not integers."""
    with pytest.raises(ConfigurationError, match="RESILIENCE_N"):
        ConfigReader({"RESILIENCE_N": value}, {}).integer("RESILIENCE_N", 0)


def test_number_bounds_are_enforced() -> None:
    """Values outside the documented range name the bound they broke."""
    reader = ConfigReader({"RESILIENCE_RATE": "1.5"}, {})
    with pytest.raises(ConfigurationError, match=r"<= 1\.0"):
        reader.number("RESILIENCE_RATE", 0.1, minimum=0.0, maximum=1.0)


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("0", False), (True, True)])
def test_boolean_accepts_common_spellings(value: object, expected: bool) -> None:
    """Booleans accept true/false, 1/0, yes/no, on/off."""
    assert ConfigReader({"RESILIENCE_B": value}, {}).boolean("RESILIENCE_B", not expected) is (
        expected
    )


def test_boolean_rejects_garbage() -> None:
    """An unrecognised boolean spelling is an error."""
    with pytest.raises(ConfigurationError):
        ConfigReader({"RESILIENCE_B": "maybe"}, {}).boolean("RESILIENCE_B", False)
