"""docs/caching.md: its Python blocks are one script, and it runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask_resilience import Resilience

DOC = Path(__file__).resolve().parents[2] / "docs" / "caching.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
DOC_REDIS_URL = "redis://127.0.0.1:6379/0"


def test_caching_doc_examples_run_in_order(redis_url: str) -> None:
    """Every python block of docs/caching.md, in order, runs against the test Redis."""
    text = DOC.read_text()
    blocks = BLOCK.findall(text)
    assert len(blocks) >= 4
    script = "\n".join(blocks)
    assert DOC_REDIS_URL in script
    namespace: dict[str, Any] = {"__name__": "caching_doc"}
    try:
        exec(compile(script.replace(DOC_REDIS_URL, redis_url), str(DOC), "exec"), namespace)
    finally:
        if "app" in namespace:
            Resilience().close(namespace["app"])
