"""What a limited response says: the 429 problem body and the rate-limit header fields.

Flask-Limiter writes ``X-RateLimit-Limit/-Remaining/-Reset``. On top of that:

* ``RateLimit-Policy`` and ``RateLimit`` as draft-ietf-httpapi-ratelimit-headers-11 defines
  them: one named policy per limit (``"login";q=5;w=900``), remaining quota ``r`` and ``t`` in
  seconds until the window resets (not an epoch, so client clocks do not matter). The partition
  key ``pk`` is a keyed digest of the limit's key, never the user id or address itself.
* ``Retry-After`` only on 429s. Flask-Limiter sends it on every limited response; its value is
  redirected to an internal header name and dropped unless the response is a 429.
* A 429 body in RFC 9457 ``application/problem+json`` with the draft's ``quota-exceeded`` type.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_limiter import RequestLimit
from werkzeug.http import http_date

from ..problems import problem_response

QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"
INTERNAL_RETRY_AFTER = "X-Resilience-Internal-Retry-After"
RETRY_AFTER_KEY = "resilience.ratelimit.retry_after"


def seconds_until(reset_time: float, now: float | None = None) -> int:
    """Whole seconds until ``reset_time``, rounded up: a client that waits that long succeeds."""
    return max(0, math.ceil(reset_time - (time.time() if now is None else now)))


def breach_response(request_limit: RequestLimit, policy_name: str) -> Response:
    """The 429 problem for ``request_limit``; remembers Retry-After for :func:`finish_headers`."""
    retry_after = max(1, seconds_until(request_limit.window.reset_time))
    request.environ[RETRY_AFTER_KEY] = retry_after
    item = request_limit.limit
    members: dict[str, Any] = {
        "retry_after": retry_after,
        "violated_policies": [policy_name],
        # the member name the draft's quota-exceeded problem type defines
        "violated-policies": [policy_name],
    }
    return problem_response(
        429,
        title="Too Many Requests",
        detail=f"Rate limit {policy_name!r} ({item}) exceeded; retry in {retry_after} seconds.",
        type=QUOTA_EXCEEDED,
        **members,
    )


class HeaderWriter:
    """Finishes every response of one app after Flask-Limiter wrote its headers."""

    def __init__(
        self,
        app: Flask,
        policy_name: Callable[[Any], str],
        current_limits: Callable[[], list[RequestLimit]],
    ) -> None:
        self._policy_name = policy_name
        self._current_limits = current_limits
        self._enabled = bool(app.config.get("RATELIMIT_HEADERS_ENABLED", True))
        self._retry_after = app.config.get("RATELIMIT_HEADER_RETRY_AFTER", "Retry-After")
        self._http_date = app.config.get("RATELIMIT_HEADER_RETRY_AFTER_VALUE") == "http-date"
        secret = app.config.get("SECRET_KEY")
        self._pk_key = hashlib.sha256(str(secret).encode()).digest() if secret else None

    def __call__(self, response: Response) -> Response:
        headers = response.headers
        if INTERNAL_RETRY_AFTER in headers:
            del headers[INTERNAL_RETRY_AFTER]
        if response.status_code == 429:
            retry_after = request.environ.get(RETRY_AFTER_KEY)
            if retry_after is not None:
                headers[self._retry_after] = (
                    http_date(time.time() + retry_after) if self._http_date else str(retry_after)
                )
        if self._enabled:
            limits = self._current_limits()
            if limits:
                policy, state = self.fields(limits)
                headers["RateLimit-Policy"] = policy
                headers["RateLimit"] = state
        return response

    def fields(self, limits: list[RequestLimit]) -> tuple[str, str]:
        """``RateLimit-Policy`` and ``RateLimit`` values for the limits checked in a request."""
        now = time.time()
        policies, states = [], []
        for request_limit in limits:
            name = self._policy_name(request_limit.limit)
            item = request_limit.limit
            window = request_limit.window
            policies.append(f'"{name}";q={item.amount};w={item.get_expiry()}')
            reset_in = seconds_until(window.reset_time, now)
            state = f'"{name}";r={max(0, window.remaining)};t={reset_in}'
            if self._pk_key is not None:
                state += f";pk=:{self._partition_key(request_limit.key)}:"
            states.append(state)
        return ", ".join(policies), ", ".join(states)

    def _partition_key(self, key: str) -> str:
        assert self._pk_key is not None
        digest = hashlib.blake2b(key.encode(), key=self._pk_key, digest_size=12).digest()
        return base64.b64encode(digest).decode()
