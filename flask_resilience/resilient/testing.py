"""A process-wide test mode that removes backoff waits, after stamina's ``set_testing``.

Your own test suite calls ``set_testing(True)`` once (for example in a ``conftest.py``) so code
decorated with ``@resilient`` retries without sleeping; ``attempts`` additionally caps how often
it retries. It is global on purpose: the code under test builds its policies at import time,
out of reach of fixtures.

>>> set_testing(True, attempts=1)
>>> is_testing()
True
>>> set_testing(False)
"""

from __future__ import annotations


class TestingMode:
    """The switch's state; read by ``Retry`` only on the failure path."""

    __slots__ = ("attempts", "enabled")
    __test__ = False  # not a pytest test class despite the name

    def __init__(self) -> None:
        self.enabled = False
        self.attempts: int | None = None


TESTING = TestingMode()


def set_testing(enabled: bool = True, *, attempts: int | None = None) -> None:
    """Turn test mode on or off; while on, backoff waits are zero and attempts are capped."""
    if attempts is not None and attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts!r}")
    TESTING.enabled = enabled
    TESTING.attempts = attempts if enabled else None


def is_testing() -> bool:
    """Whether ``set_testing(True)`` is in effect."""
    return TESTING.enabled
