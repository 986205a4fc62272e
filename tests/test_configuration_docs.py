"""docs/configuration.md documents every key the package reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = re.compile(r"\bRESILIENCE_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def _keys_in_source() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "flask_resilience").rglob("*.py"):
        found |= set(KEY.findall(path.read_text()))
    from flask_resilience import PRESETS

    preset = next(iter(PRESETS.values()))
    found |= {f"RESILIENCE_{name.upper()}" for name in preset.__slots__}
    return found


def test_every_key_is_documented() -> None:
    """Each RESILIENCE_* key named in the package has a row in docs/configuration.md."""
    documented = set(KEY.findall((ROOT / "docs" / "configuration.md").read_text()))
    missing = _keys_in_source() - documented
    assert not missing, f"undocumented keys: {sorted(missing)}"
    assert "RESILIENCE_DATABASE_URL" in documented
