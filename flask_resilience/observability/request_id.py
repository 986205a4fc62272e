"""One id per request: taken from a safe incoming ``X-Request-ID`` or made up, echoed in the
response, bound to every loguru line of the request, and forwarded by ``res.http``.

An incoming id is accepted only when short and made of safe characters, so a client cannot
inject log lines or blow up log storage through it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, Response, g, request
from loguru import logger

HEADER = "X-Request-ID"
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def init_request_ids(app: Flask) -> None:
    """Assign ids before each request, echo them after, and unbind the log context at teardown."""
    app.before_request(_assign)
    app.after_request(_echo)
    app.teardown_request(_unbind)


def _assign() -> None:
    incoming = request.headers.get(HEADER, "")
    request_id = incoming if SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.resilience_request_id = request_id
    context = logger.contextualize(request_id=request_id)
    context.__enter__()
    g.resilience_log_context = context


def _echo(response: Response) -> Response:
    request_id = g.get("resilience_request_id")
    if request_id:
        response.headers[HEADER] = request_id
    return response


def _unbind(_exc: BaseException | None) -> None:
    context: Any = g.pop("resilience_log_context", None)
    if context is not None:
        context.__exit__(None, None, None)
