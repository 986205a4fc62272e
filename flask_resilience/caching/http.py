"""HTTP caching for cached GET views: strong ETag, ``304 Not Modified``, ``Cache-Control``.

The ETag is a hash of the body computed once, when the response is stored, so every process
serves the same ETag for the same body and a hit costs no hashing. ``If-None-Match`` uses the
weak comparison RFC 9110 section 13.1.2 prescribes; a 304 repeats ``ETag``, ``Cache-Control``
and ``Vary`` as section 15.4.5 requires.
"""

from __future__ import annotations

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


def cache_control(ttl: int, stale_while_revalidate: int | None, private: bool) -> str:
    value = f"{'private' if private else 'public'}, max-age={ttl}"
    if stale_while_revalidate:
        value += f", stale-while-revalidate={stale_while_revalidate}"
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
