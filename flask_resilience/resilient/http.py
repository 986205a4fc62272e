"""A ``requests.Session`` that sends every request through a named policy per host.

5xx answers and connection errors are failures (retried, counted by the breaker); 4xx answers
are the caller's problem and come back as responses, never retried. A ``Retry-After`` header on
a 5xx answer sets the wait before the next attempt. The current request's ``X-Request-ID`` is
forwarded, so one id follows a user's request across services.

Needs the ``http`` extra (``pip install 'flask-resilience[http]'``), which brings ``requests``.

>>> session = ResilientSession(policies={"payments.internal": "payments"})
>>> session.policy_name("https://payments.internal/charge")
'payments'
>>> session.policy_name("https://api.example.com/x")
'http:api.example.com'
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import g, has_request_context, request

from .named import NamedPolicy

REQUEST_ID_HEADER = "X-Request-ID"


class UpstreamError(requests.HTTPError):
    """A 5xx answer, raised so the policy counts it; ``status_code`` feeds the healer."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"{response.status_code} from {response.url}", response=response)
        self.status_code = response.status_code
        self.retry_after = retry_after_seconds(response.headers.get("Retry-After"))


class ResilientSession(requests.Session):
    """``requests.Session`` with a policy per host (``http:<host>`` unless mapped by ``policies``).

    Per-policy settings come from ``RESILIENCE_POLICIES`` like any named policy, so operators
    tune a dependency without touching code. ``timeout`` is the default per-request timeout.
    """

    def __init__(
        self, *, policies: Mapping[str, str] | None = None, timeout: float | None = 10.0
    ) -> None:
        super().__init__()
        self.host_policies = dict(policies or {})
        self.default_timeout = timeout
        self._named: dict[str, NamedPolicy] = {}

    def policy_name(self, url: str) -> str:
        host = urlsplit(url).hostname or "unknown"
        return self.host_policies.get(host, f"http:{host}")

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        text_url = url.decode() if isinstance(url, bytes) else url
        kwargs.setdefault("timeout", self.default_timeout)
        headers = dict(kwargs.pop("headers", None) or {})
        request_id = current_request_id()
        if request_id and REQUEST_ID_HEADER not in headers:
            headers[REQUEST_ID_HEADER] = request_id
        kwargs["headers"] = headers
        name = self.policy_name(text_url)
        policy = self._named.get(name)
        if policy is None:
            policy = self._named[name] = NamedPolicy(name, {})
        send = super().request
        return policy.call(self._checked, send, method, text_url, *args, **kwargs)

    @staticmethod
    def _checked(send: Any, *args: Any, **kwargs: Any) -> requests.Response:
        response: requests.Response = send(*args, **kwargs)
        if response.status_code >= 500:
            raise UpstreamError(response)
        return response


def current_request_id() -> str | None:
    """The id of the request being served: the one observability assigned, else the header."""
    if not has_request_context():
        return None
    assigned = g.get("resilience_request_id")
    if assigned:
        return str(assigned)
    return request.headers.get(REQUEST_ID_HEADER)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date).

    >>> retry_after_seconds("3")
    3.0
    >>> retry_after_seconds("garbage") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
