"""What one cached key holds: the value plus the metadata that freshness decisions need.

Stored as a small JSON-able envelope so every process (and every language) can read it::

    {"v": <value>, "x": <expires at, epoch seconds or null>, "d": <compute seconds>,
     "g": {"<tag>": <generation>}}

Views store ``"r"`` (status, headers, body, ETag) instead of ``"v"``: a Flask ``Response`` is
never pickled. The logical expiry ``x`` comes before Redis' own TTL, which is ``ttl + stale
grace``: between the two the entry is *stale*, served while one caller recomputes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A view's response as data: what is needed to rebuild it, and its strong ETag."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    etag: str

    @classmethod
    def build(cls, status: int, headers: list[tuple[str, str]], body: bytes) -> CachedResponse:
        """The ETag is a hash of the body, so equal bodies on any process get equal ETags."""
        etag = hashlib.sha256(body).hexdigest()[:32]
        return cls(status, tuple(headers), body, etag)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"s": self.status, "h": [list(h) for h in self.headers]}
        data["e"] = self.etag
        try:
            data["b"] = self.body.decode()
        except UnicodeDecodeError:
            data["b64"] = base64.b64encode(self.body).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CachedResponse:
        body = data["b"].encode() if "b" in data else base64.b64decode(data["b64"])
        headers = tuple((str(k), str(v)) for k, v in data["h"])
        return cls(int(data["s"]), headers, body, str(data["e"]))


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached value with its logical expiry, compute time (for XFetch) and tag generations."""

    value: Any
    expires_at: float | None
    delta: float
    gens: Mapping[str, int]

    def is_fresh(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def is_servable_stale(self, now: float, grace: float) -> bool:
        return self.expires_at is not None and now < self.expires_at + grace

    def wants_early_refresh(self, now: float, beta: float, rand: float) -> bool:
        """XFetch (Vattani et al., VLDB 2015): recompute early with a probability that grows
        as expiry nears, scaled by how long the value took to compute.

        ``rand`` is uniform in (0, 1]; with ``beta`` 0 this never fires.
        """
        if self.expires_at is None or beta <= 0 or self.delta <= 0:
            return False
        return now - self.delta * beta * math.log(rand) >= self.expires_at

    def to_envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = {"x": self.expires_at, "d": round(self.delta, 6)}
        if self.gens:
            data["g"] = dict(self.gens)
        if isinstance(self.value, CachedResponse):
            data["r"] = self.value.to_json()
        else:
            data["v"] = self.value
        return data

    @classmethod
    def from_envelope(cls, data: Any) -> Entry | None:
        """The entry, or None for anything that is not an envelope we wrote (read as a miss)."""
        if not isinstance(data, dict) or ("v" not in data and "r" not in data):
            return None
        try:
            value = CachedResponse.from_json(data["r"]) if "r" in data else data["v"]
            expires = data.get("x")
            gens = {str(k): int(v) for k, v in (data.get("g") or {}).items()}
            return cls(value, None if expires is None else float(expires), float(data["d"]), gens)
        except (KeyError, TypeError, ValueError):
            return None


class _Frozen:
    """JSON text standing in for a mutable value inside the in-process L1."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_IMMUTABLE = (str, int, float, bool, type(None), CachedResponse)


def freeze(value: Any) -> Any:
    """Make a value safe to share between callers: a caller mutating its copy cannot touch L1.

    Thawing re-parses JSON, so L1 and Redis hand back the same types (lists, not tuples).
    """
    if isinstance(value, _IMMUTABLE):
        return value
    return _Frozen(json.dumps(value, separators=(",", ":")))


def thaw(value: Any) -> Any:
    return json.loads(value.text) if isinstance(value, _Frozen) else value
