"""RFC 9457 ``application/problem+json`` responses for every error the extension's routes return.

Clients of an API get one machine-readable error shape (``type``, ``title``, ``status``,
``detail``, ``instance`` plus extension members) instead of HTML pages or stack traces.

>>> from flask import Flask
>>> with Flask(__name__).test_request_context("/resilience/x"):
...     problem_response(409, detail="version 3 is stale", current_version=4).get_json()["status"]
409
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, json, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

PROBLEM_MIMETYPE = "application/problem+json"
ABOUT_BLANK = "about:blank"
logger = logging.getLogger("flask_resilience")


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type: str = ABOUT_BLANK,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response; ``instance`` defaults to the request path."""
    body: dict[str, Any] = {
        "type": type,
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    body["instance"] = instance if instance is not None else _request_path()
    body.update(extensions)
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_from_http_exception(exc: HTTPException) -> Response:
    """Render a werkzeug HTTP error as a problem, keeping headers such as ``Allow``.

    An error that already carries its own problem response (``abort(problem_response(...))``, or
    Flask-Limiter's 429 built by the rate-limit capability) keeps it: an app-level handler must
    not replace a precise body (``retry_after``, ``current_version``) with a generic one.
    """
    attached = exc.response
    if isinstance(attached, Response) and attached.mimetype == PROBLEM_MIMETYPE:
        return attached
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    detail = exc.description if status < 500 else None
    return problem_response(status, detail=detail, headers=headers)


SERVICE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,  # refused, reset, LOADING, auth: Redis cannot answer
    RedisTimeoutError,
    OperationalError,  # the database refused or dropped the connection, or is shutting down
    InterfaceError,
)
SERVICE_DOWN_RETRY_AFTER = 5


def register_problem_handlers(blueprint: Blueprint) -> None:
    """Make every error raised inside ``blueprint``'s views a problem, and no 500 leak a trace.

    A backing service that does not answer (Redis, the database) is a 503 with ``Retry-After``:
    the request was fine and the same request will work once the service is back.
    """
    blueprint.register_error_handler(HTTPException, problem_from_http_exception)
    for error in SERVICE_DOWN_ERRORS:
        blueprint.register_error_handler(error, _service_down)
    blueprint.register_error_handler(Exception, _unexpected_error)


def _service_down(exc: Exception) -> Response:
    service = "Redis" if isinstance(exc, RedisConnectionError | RedisTimeoutError) else "database"
    logger.warning("%s unreachable in %s %s: %s", service, request.method, request.path, exc)
    return problem_response(
        503,
        detail=f"the {service} is unreachable; retry shortly",
        headers={"Retry-After": str(SERVICE_DOWN_RETRY_AFTER)},
        service=service.lower(),
    )


def install_prefix_problems(app: Flask, *prefixes: str) -> None:
    """Render routing errors (404, 405) under any of ``prefixes`` as problems.

    Routing errors happen before a blueprint is chosen, so blueprint handlers never see them; this
    app-level handler answers only for paths under the prefixes. Flask keeps one app-level handler
    per exception class, so every other path goes to the handler registered before this one (or
    gets the default response): calling this for several prefixes, or after the host registered
    its own ``HTTPException`` handler, keeps every handler working.

    >>> app = Flask(__name__)
    >>> install_prefix_problems(app, "/api", "/auth")
    """
    previous: Callable[[HTTPException], Any] | None = app.error_handler_spec[None][None].get(
        HTTPException
    )

    def handle(exc: HTTPException) -> Any:
        path = request.path
        if any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes):
            return problem_from_http_exception(exc)
        return previous(exc) if previous is not None else exc

    app.register_error_handler(HTTPException, handle)


def _unexpected_error(exc: Exception) -> Response:
    if current_app.config.get("PROPAGATE_EXCEPTIONS"):
        raise exc
    logger.exception("unhandled error in %s %s", request.method, request.path)
    return problem_from_http_exception(InternalServerError())


def _request_path() -> str | None:
    try:
        return request.path
    except RuntimeError:
        return None
