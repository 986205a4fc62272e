"""The package's public names stay complete and importable."""

from __future__ import annotations

from types import ModuleType

import flask_resilience

PUBLIC_MODULES = {"schema"}


def test_all_is_complete() -> None:
    """__all__ lists every public re-export (ruff keeps it sorted) and each name resolves."""
    public = {
        name
        for name, value in vars(flask_resilience).items()
        if not name.startswith("_")
        and name != "annotations"
        and (not isinstance(value, ModuleType) or name in PUBLIC_MODULES)
    }
    assert set(flask_resilience.__all__) == public
    assert len(flask_resilience.__all__) == len(set(flask_resilience.__all__))
