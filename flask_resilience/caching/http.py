"""HTTP caching for cached GET views: strong ETag, ``304 Not Modified``, ``Cache-Control``.

The ETag is a hash of the body computed once, when the response is stored, so every process
serves the same ETag for the same body and a hit costs no hashing. ``If-None-Match`` uses the
weak comparison RFC 9110 section 13.1.2 prescribes; a 304 repeats ``ETag``, ``Cache-Control``
and ``Vary`` as section 15.4.5 requires.

``max-age`` never exceeds what is left of the entry's own lifetime, so a browser or CDN never
keeps a response longer than the server would. A tagged view can be invalidated at any moment,
so by default it sends ``max-age=0, must-revalidate``: clients keep the body but ask every time,
and the answer is a cheap ``304`` until the tag is invalidated. ``http_max_age`` trades that
freshness for fewer requests (still capped by the remaining lifetime).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import Response, request

from .entry import CachedResponse

SKIPPED_HEADERS = frozenset({"set-cookie", "content-length", "date"})
"""Never stored: cookies are per client; length and date are recomputed."""


def storable_headers(response: Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.items() if k.lower() not in SKIPPED_HEADERS]


def is_cacheable(response: Response) -> bool:
    """Only complete 200s without cookies are shared between clients."""
    return (
        response.status_code == 200
        and not response.is_streamed
        and "Set-Cookie" not in response.headers
    )


@dataclass(frozen=True, slots=True)
class Policy:
    """A cached view's HTTP caching: on or off, stale-while-revalidate, browser max-age cap."""

    enabled: bool = True
    stale_while_revalidate: int | None = None
    max_age: int | None = None
    tagged: bool = False

    def cache_control(self, remaining: float | None, private: bool) -> str:
        """The header for an entry with ``remaining`` seconds to live (None: no expiry).

        >>> Policy().cache_control(42.7, private=False)
        'public, max-age=42'
        >>> Policy(tagged=True).cache_control(42.7, private=False)
        'public, max-age=0, must-revalidate'
        """
        cap = self.max_age if self.max_age is not None else (0 if self.tagged else None)
        if remaining is None:  # ttl=0 entries never expire: only an explicit cap is sent
            seconds = cap or 0
        else:
            seconds = max(0, math.floor(remaining))
            if cap is not None:
                seconds = min(seconds, cap)
        return cache_control(seconds, self.stale_while_revalidate, private)


def cache_control(max_age: int, stale_while_revalidate: int | None, private: bool) -> str:
    value = f"{'private' if private else 'public'}, max-age={max_age}"
    if stale_while_revalidate:
        value += f", stale-while-revalidate={stale_while_revalidate}"
    elif max_age == 0:
        value += ", must-revalidate"
    return value


def plain(cached: CachedResponse) -> Response:
    """The stored response as is, for views cached with ``http_cache=False``."""
    return Response(cached.body, status=cached.status, headers=list(cached.headers))


def respond(cached: CachedResponse, control: str | None) -> Response:
    """The response for this request: 304 when the client holds this ETag, else the body."""
    etag = f'"{cached.etag}"'
    if request.if_none_match.contains_weak(cached.etag):
        response = Response(status=304)
        for name, value in cached.headers:
            if name.lower() in ("cache-control", "vary", "content-location", "expires"):
                response.headers[name] = value
    else:
        response = Response(cached.body, status=cached.status, headers=list(cached.headers))
    response.headers["ETag"] = etag
    if control is not None and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = control
    return response
