"""The autosave endpoints: HTTP in front of ``service``, mounted at ``<prefix>/autosave``.

``GET|PUT|PATCH|DELETE <prefix>/autosave/<kind>/<key>`` and ``POST .../beacon`` (page-exit saves
from ``navigator.sendBeacon``, which cannot send headers). Every refusal is problem JSON and
changes nothing. :func:`respond` is the same handler for a host route that exposes a draft
under its own URL (``/api/attempts/<id>/progress``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from ..problems import problem_from_http_exception, problem_response, register_problem_handlers
from ..state import get_state
from .documents import MAX_DEPTH, DraftTooLarge, too_deep
from .kinds import DraftKind, DraftValidationError
from .runtime import AutosaveRuntime, runtime_of
from .service import (
    MAX_VERSION,
    DraftBusy,
    DraftState,
    IdempotencyKeyReused,
    IfMatch,
    PreconditionFailed,
    Write,
    delete_draft,
    load_draft,
    save_draft,
)

BLUEPRINT = "resilience_autosave"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
CLIENT_SAVED_AT = "Client-Saved-At"
SUPERSEDES = "Autosave-Supersedes"
MAX_KEY_LENGTH = 200
MAX_IDEMPOTENCY_KEY = 255
MAX_SUPERSEDED = 16
BEACON_ENVELOPE_BYTES = 4096
"""Room for the beacon's ``version``, ``client_saved_at`` and keys around the payload."""
VERSION_TAG = re.compile(r"[0-9]{1,10}")
"""ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` then refuses."""
PRINTABLE = re.compile(r"[\x20-\x7e]+")
"""Printable ASCII: what an idempotency key may hold (no NUL, which PostgreSQL text refuses)."""

View = Callable[..., Any]


def autosave_blueprint(decorators: Iterable[Callable[[View], View]] = ()) -> Blueprint:
    """A fresh blueprint (one per app) whose draft views are wrapped in ``decorators``.

    ``decorators`` is where the rate-limit preset goes: ``(limits.autosave,)``.
    """
    blueprint = Blueprint(BLUEPRINT, __name__, static_folder="static", static_url_path="/static")
    register_problem_handlers(blueprint)

    def draft(kind: str, key: str) -> Response:
        return respond(kind, key)

    def beacon(kind: str, key: str) -> Response:
        return respond(kind, key, beacon=True)

    for decorate in decorators:
        draft, beacon = decorate(draft), decorate(beacon)
    methods = ["GET", "PUT", "PATCH", "DELETE"]
    blueprint.add_url_rule("/<kind>/<key>", "draft", draft, methods=methods)
    blueprint.add_url_rule("/<kind>/<key>/beacon", "beacon", beacon, methods=["POST"])
    return blueprint


def respond(kind_name: str, key: str, *, beacon: bool = False) -> Response:
    """Answer the current request for draft ``key`` of ``kind_name``, as the endpoints do."""
    runtime = runtime_of()
    try:
        kind = _kind(runtime, kind_name, key)
        owner_id = _authorize(runtime, kind, key)
        if beacon:
            return _write(runtime, kind, key, owner_id, beacon=True)
        if request.method in ("GET", "HEAD"):
            return _read(runtime, kind, key)
        if request.method == "DELETE":
            return _delete(runtime, kind, key)
        if request.method in ("PUT", "PATCH"):
            return _write(runtime, kind, key, owner_id, beacon=False)
        abort(405, valid_methods=["GET", "PUT", "PATCH", "DELETE"])
    except HTTPException as exc:
        return exc.response if exc.response is not None else problem_from_http_exception(exc)  # type: ignore[return-value]
    except PreconditionFailed as exc:
        return _precondition_failed(exc.current)
    except DraftTooLarge as exc:
        return problem_response(413, detail=str(exc), max_bytes=exc.limit)
    except DraftValidationError as exc:
        return problem_response(422, title="Invalid draft", detail=exc.message, path=exc.path)
    except IdempotencyKeyReused as exc:
        return problem_response(422, title="Idempotency-Key reused", detail=str(exc))
    except DraftBusy as exc:
        return problem_response(503, detail=str(exc), headers={"Retry-After": "1"})


def indicator(element_id: str = "resilience-autosave-indicator") -> Markup:
    """The save indicator ``autosave.js`` writes into: ``{{ resilience_autosave_indicator() }}``.

    A polite live region, so screen readers hear "Saved" without losing focus.
    """
    return Markup(
        '<span id="{}" class="resilience-autosave-indicator" data-resilience-autosave-indicator'
        ' role="status" aria-live="polite"></span>'
    ).format(element_id)


def script() -> Markup:
    """The ``<script>`` tag of ``autosave.js``: ``{{ resilience_autosave_script() }}``."""
    src = url_for(f"{BLUEPRINT}.static", filename="autosave.js")
    return Markup('<script src="{}"></script>').format(src)


def _kind(runtime: AutosaveRuntime, name: str, key: str) -> DraftKind:
    kind = runtime.kinds.get(name)
    bad_key = not key or len(key) > MAX_KEY_LENGTH or not key.isprintable()
    if kind is None or bad_key:
        abort(problem_response(404, detail=f"There is no draft kind {name!r} with key {key!r}."))
    return kind


def _authorize(runtime: AutosaveRuntime, kind: DraftKind, key: str) -> str:
    """The owner's id when the caller is the owner; 401 anonymous, 403 (or hidden: 404) others."""
    user = get_state().current_user_id()
    if user is None:
        abort(problem_response(401, detail="Sign in to read or save drafts."))
    owner = kind.owner(key)
    if owner is None:
        abort(problem_response(404, detail=f"There is no {kind.name} {key!r}."))
    if str(owner) != str(user):
        if runtime.settings.hide_forbidden:
            abort(problem_response(404, detail=f"There is no {kind.name} {key!r}."))
        abort(problem_response(403, detail=f"This {kind.name} belongs to another user."))
    return str(owner)


def _read(runtime: AutosaveRuntime, kind: DraftKind, key: str) -> Response:
    with runtime.session() as session:
        draft = load_draft(session, kind.name, key, now=runtime.now())
    if draft is None:
        return problem_response(404, detail=f"There is no draft of {kind.name} {key!r} yet.")
    if request.if_none_match.contains(str(draft.version)):
        return _draft_response({}, draft.version, status=304)
    return _draft_response(draft.as_json(), draft.version)


def _delete(runtime: AutosaveRuntime, kind: DraftKind, key: str) -> Response:
    with runtime.session() as session:
        delete_draft(session, kind.name, key, now=runtime.now(), if_match=_if_match())
    return current_app.response_class(status=204)


def _write(
    runtime: AutosaveRuntime, kind: DraftKind, key: str, owner_id: str, *, beacon: bool
) -> Response:
    if not beacon:
        _require_json()
    limit = kind.max_bytes + (BEACON_ENVELOPE_BYTES if beacon else 0)
    body, raw = _json_body(limit, MAX_DEPTH + (1 if beacon else 0))
    fields = _beacon_fields(body) if beacon else _header_fields()
    write = Write(
        kind=kind.name,
        key=key,
        owner_id=owner_id,
        body=fields["payload"] if beacon else body,
        merge=request.method == "PATCH",
        if_match=fields["if_match"],
        if_none_match=fields["if_none_match"],
        supersedes=fields["supersedes"],
        client_saved_at=fields["client_saved_at"],
        idempotency_key=fields["idempotency_key"],
        request_hash=hashlib.sha256(request.method.encode() + b"\n" + raw).hexdigest(),
    )
    with runtime.session() as session:
        saved = save_draft(
            session,
            write,
            kind,
            now=runtime.now(),
            idempotency_ttl=runtime.settings.idempotency_ttl,
        )
    response = _draft_response(saved.body, saved.version)
    if saved.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _require_json() -> None:
    """415 unless the body is JSON: PUT takes ``application/json``, PATCH also a merge patch.

    A PUT labelled as a merge patch is refused rather than read as a whole document, which
    would silently drop every member the sender meant to keep.
    """
    allowed = (JSON, MERGE_PATCH) if request.method == "PATCH" else (JSON,)
    if request.mimetype in allowed:
        return
    detail = (
        f"Send PATCH as {MERGE_PATCH} (RFC 7396) or {JSON}."
        if request.method == "PATCH"
        else f"Send PUT as {JSON} (a merge patch goes with PATCH)."
    )
    headers = {"Accept-Patch": MERGE_PATCH} if request.method == "PATCH" else {}
    abort(problem_response(415, detail=detail, headers=headers))


def _header_fields() -> dict[str, Any]:
    return {
        "if_match": _if_match(),
        "if_none_match": _if_none_match(),
        "supersedes": _supersedes(_header_list(request.headers.get(SUPERSEDES))),
        "client_saved_at": _timestamp(request.headers.get(CLIENT_SAVED_AT)),
        "idempotency_key": _idempotency_key(request.headers.get("Idempotency-Key")),
    }


def _beacon_fields(body: Any) -> dict[str, Any]:
    """The beacon envelope ``{"version", "payload", "client_saved_at", "idempotency_key",
    "supersedes"}``; ``version`` 0 means "I saw no draft" (``If-None-Match: *``)."""
    _same_origin()
    if not isinstance(body, dict) or "payload" not in body:
        abort(problem_response(400, detail='Send {"version": <n or null>, "payload": {...}}.'))
    version = body.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        abort(problem_response(400, detail="version must be an integer or null."))
    supersedes = body.get("supersedes") or []
    if not isinstance(supersedes, list):
        abort(problem_response(400, detail="supersedes must be a list of idempotency keys."))
    return {
        "payload": body["payload"],
        "if_match": None if version in (None, 0) else IfMatch(_in_range({version})),
        "if_none_match": IfMatch(any=True) if version == 0 else None,
        "supersedes": _supersedes(supersedes),
        "client_saved_at": _timestamp(body.get("client_saved_at")),
        "idempotency_key": _idempotency_key(body.get("idempotency_key")),
    }


def _same_origin() -> None:
    """Refuse cross-site beacons: a text/plain POST is a "simple" request that skips CORS.

    ``request.host`` is the host the browser used: behind a reverse proxy, set
    ``RESILIENCE_TRUSTED_PROXIES`` and the extension's ``ProxyFix`` takes it from
    ``X-Forwarded-Host`` (and ``X-Forwarded-Port``); without it the proxy's upstream host would
    never equal the page's ``Origin`` and every beacon would be refused.
    """
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        abort(problem_response(403, detail="Cross-site beacons are refused."))
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        abort(problem_response(403, detail="Cross-site beacons are refused."))


def _json_body(limit: int, max_depth: int) -> tuple[Any, bytes]:
    """The parsed body and its bytes; 413 past ``limit`` without reading further, 400 if bad.

    Nesting past ``max_depth`` is a 400 too: deeper documents would only exhaust the stack of
    the merge, the size check or the database driver further on.
    """
    length = request.content_length
    if length is not None and length > limit:
        raise DraftTooLarge(length, limit)
    raw = request.get_data(cache=True) if length is not None else request.stream.read(limit + 1)
    if len(raw) > limit:
        raise DraftTooLarge(len(raw), limit)
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        abort(problem_response(400, detail="The body is not valid JSON."))
    except RecursionError:
        body = None
    else:
        if not too_deep(body, max_depth):
            return body, raw
    abort(problem_response(400, detail=f"The body nests deeper than {MAX_DEPTH} levels."))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _if_match() -> IfMatch | None:
    """``If-Match`` as versions; weak, non-numeric or out-of-range tags never match (so 412)."""
    if "If-Match" not in request.headers:
        return None
    tags = request.if_match
    return IfMatch(_versions(tags.as_set()), any=tags.star_tag)


def _if_none_match() -> IfMatch | None:
    """``If-None-Match`` on a write: ``*`` means "only if there is no draft yet" (weak compare)."""
    if "If-None-Match" not in request.headers:
        return None
    tags = request.if_none_match
    return IfMatch(_versions(tags.as_set(include_weak=True)), any=tags.star_tag)


def _versions(tags: Iterable[str]) -> frozenset[int]:
    return _in_range(int(tag) for tag in tags if VERSION_TAG.fullmatch(tag))


def _in_range(versions: Iterable[int]) -> frozenset[int]:
    """Versions a draft can have; others cannot match, and must not reach an INTEGER column."""
    return frozenset(v for v in versions if 0 < v <= MAX_VERSION)


def _header_list(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def _supersedes(keys: list[Any]) -> frozenset[str]:
    """This client's earlier idempotency keys whose outcome it never heard (at most 16)."""
    if len(keys) > MAX_SUPERSEDED:
        abort(problem_response(400, detail=f"{SUPERSEDES} names at most {MAX_SUPERSEDED} keys."))
    return frozenset(_idempotency_key(key) or "" for key in keys)


def _timestamp(value: Any) -> datetime | None:
    """The client's clock: ISO 8601 or epoch milliseconds; 400 for anything else."""
    if value is None or value == "":
        return None
    text = str(value)
    try:
        if not isinstance(value, bool) and (isinstance(value, int | float) or text.isdigit()):
            return datetime.fromtimestamp(float(value) / 1000, UTC)
        parsed = datetime.fromisoformat(text)
        # In UTC whatever offset the client sent: SQLite keeps no offset, PostgreSQL converts.
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        abort(problem_response(400, detail=f"{CLIENT_SAVED_AT} is not an ISO 8601 timestamp."))


def _idempotency_key(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_IDEMPOTENCY_KEY
        or not PRINTABLE.fullmatch(value)
    ):
        abort(
            problem_response(
                400, detail="Idempotency-Key must be 1 to 255 printable ASCII characters."
            )
        )
    return value


def _precondition_failed(current: DraftState | None) -> Response:
    """412 with what is stored, so the client can merge or offer to reload it."""
    headers = {"ETag": f'"{current.version}"'} if current is not None else {}
    return problem_response(
        412,
        detail="The draft changed since the version you sent in If-Match (or, with "
        "If-None-Match: *, a draft exists).",
        current_version=current.version if current is not None else None,
        current_payload=current.payload if current is not None else None,
        headers=headers,
    )


def _draft_response(body: dict[str, Any], version: int, *, status: int = 200) -> Response:
    response = current_app.response_class(
        json.dumps(body) if status != 304 else None, status=status, mimetype="application/json"
    )
    response.headers["ETag"] = f'"{version}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["Accept-Patch"] = MERGE_PATCH
    return response
