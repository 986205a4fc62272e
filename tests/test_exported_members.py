"""The package's public names stay complete and importable."""

from __future__ import annotations

import flask_resilience


def test_all_is_sorted_and_complete() -> None:
    """__all__ lists every public re-export (ruff keeps it sorted) and each name resolves."""
    public = {
        name
        for name in vars(flask_resilience)
        if not name.startswith("_") and name not in {"annotations"}
    }
    modules = {"errors", "extension", "problems", "signals", "state", "cli", "admin"}
    modules |= {"observability", "ratelimit", "resilient"}
    assert set(flask_resilience.__all__) == public - modules
    assert len(flask_resilience.__all__) == len(set(flask_resilience.__all__))
    for name in flask_resilience.__all__:
        assert getattr(flask_resilience, name) is not None
