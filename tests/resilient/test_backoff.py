"""Backoff schedules: exponential growth, caps, jitter bounds and an exact zero."""

from __future__ import annotations

import random

import pytest

from flask_resilience.resilient import ConstantBackoff, ExponentialBackoff


def test_exponential_schedule_without_jitter() -> None:
    """Delays double from the base and stop growing at max_delay."""
    backoff = ExponentialBackoff(base=0.1, multiplier=2, max_delay=0.5, jitter="none")
    assert [backoff.delay(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_full_jitter_stays_within_zero_and_the_capped_delay() -> None:
    """Full jitter draws each delay from [0, capped exponential delay]."""
    backoff = ExponentialBackoff(base=0.1, max_delay=1.0, rng=random.Random(7))
    for attempt in range(1, 12):
        cap = min(1.0, 0.1 * 2 ** (attempt - 1))
        for _ in range(50):
            assert 0.0 <= backoff.delay(attempt) <= cap


def test_seeded_rng_makes_jitter_reproducible() -> None:
    """Two backoffs with equally seeded generators produce the same schedule."""
    first = ExponentialBackoff(rng=random.Random(42))
    second = ExponentialBackoff(rng=random.Random(42))
    assert [first.delay(n) for n in range(1, 8)] == [second.delay(n) for n in range(1, 8)]


def test_zero_base_is_exactly_zero_even_with_jitter() -> None:
    """A zero base yields exactly 0.0 so callers can skip sleeping."""
    backoff = ExponentialBackoff(base=0.0, jitter="full")
    assert [backoff.delay(n) for n in range(1, 5)] == [0.0, 0.0, 0.0, 0.0]


def test_huge_attempt_numbers_cap_instead_of_overflowing() -> None:
    """An attempt number that would overflow a float returns max_delay."""
    assert ExponentialBackoff(max_delay=3.0, jitter="none").delay(5000) == 3.0


def test_constant_backoff_repeats_its_delay() -> None:
    """ConstantBackoff waits the same time before every retry."""
    assert [ConstantBackoff(0.25).delay(n) for n in (1, 2, 9)] == [0.25, 0.25, 0.25]


@pytest.mark.parametrize(
    "kwargs",
    [{"base": -1.0}, {"max_delay": -1.0}, {"multiplier": 0.5}, {"jitter": "half"}],
)
def test_invalid_exponential_settings_are_rejected(kwargs: dict[str, object]) -> None:
    """Negative delays, shrinking multipliers and unknown jitter kinds raise ValueError."""
    with pytest.raises(ValueError):
        ExponentialBackoff(**kwargs)  # type: ignore[arg-type]


def test_negative_constant_backoff_is_rejected() -> None:
    """A negative constant delay raises ValueError."""
    with pytest.raises(ValueError):
        ConstantBackoff(-0.1)
