"""Sliding windows of breaker outcomes."""

from __future__ import annotations

from flask_resilience.resilient._windows import FAILURE, SLOW, SUCCESS, CountWindow, TimeWindow


def test_count_window_evicts_the_oldest_outcome() -> None:
    """A count window keeps only its last size outcomes in its totals."""
    window = CountWindow(3)
    for outcome in (FAILURE, SLOW, SUCCESS, SUCCESS):
        window.add(outcome, 0.0)
    assert window.totals(0.0) == (3, 0, 1)
    window.add(SUCCESS, 0.0)
    assert window.totals(0.0) == (3, 0, 0)
    assert window.full_and_clean()


def test_count_window_is_not_clean_until_full() -> None:
    """A partly filled window must still record successes."""
    window = CountWindow(2)
    window.add(SUCCESS, 0.0)
    assert not window.full_and_clean()


def test_time_window_expires_old_slices() -> None:
    """Outcomes older than the window's length stop counting, slice by slice."""
    window = TimeWindow(10.0, buckets=10)
    window.add(FAILURE, 0.5)
    window.add(FAILURE | SLOW, 5.5)
    assert window.totals(9.9) == (2, 2, 1)
    assert window.totals(10.5) == (1, 1, 1)
    assert window.totals(100.0) == (0, 0, 0)


def test_time_window_counts_late_outcomes_in_their_own_slice() -> None:
    """An outcome stamped slightly earlier than the newest slice still counts."""
    window = TimeWindow(10.0, buckets=10)
    window.add(SUCCESS, 5.0)
    window.add(FAILURE, 4.0)
    assert window.totals(5.0) == (2, 1, 0)
    assert window.totals(14.5) == (1, 0, 0)
