"""The process-wide test mode switch."""

from __future__ import annotations

import pytest

from flask_resilience.resilient import is_testing, set_testing
from flask_resilience.resilient.testing import TESTING


def test_set_testing_turns_the_mode_on_and_off() -> None:
    """set_testing(True) enables test mode and set_testing(False) clears it and its cap."""
    set_testing(True, attempts=2)
    assert is_testing() and TESTING.attempts == 2
    set_testing(False)
    assert not is_testing() and TESTING.attempts is None


def test_attempt_cap_must_be_positive() -> None:
    """An attempts cap below one is refused."""
    with pytest.raises(ValueError):
        set_testing(True, attempts=0)
