"""Fixtures for the resilient-calls core: a manual clock, a fresh registry, test mode reset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flask_resilience._foundation.clock import ManualClock
from flask_resilience.resilient import PolicyRegistry, set_testing


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry() -> PolicyRegistry:
    return PolicyRegistry()


@pytest.fixture(autouse=True)
def _reset_testing_mode() -> Iterator[None]:
    set_testing(False)
    yield
    set_testing(False)
