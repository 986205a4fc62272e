"""Drafts as plain functions over a SQLAlchemy ``Session``: read, write (replace or merge), delete.

No Flask here, so workers, scripts and tests call the same code the endpoints do. Every write is
optimistic: it reads the row, computes the new document, then commits with
``UPDATE ... WHERE version = :read_version``. A writer that lost a race updates no row and starts
over from a fresh read, so no update is ever lost; a writer that sent ``If-Match`` gets
``PreconditionFailed`` with the draft that beat it instead. PostgreSQL also locks the row
(``SELECT ... FOR UPDATE``) so contended writers queue instead of retrying.

>>> from sqlalchemy import create_engine
>>> from sqlalchemy.orm import Session
>>> from flask_resilience.autosave.kinds import DraftKinds
>>> engine = create_engine("sqlite://")
>>> Draft.metadata.create_all(engine, tables=[Draft.__table__, DraftRequest.__table__])
>>> kind = DraftKinds().register("note", owner=lambda key: "u1")
>>> now = datetime.now(UTC)
>>> saved = save_draft(Session(engine), Write("note", "1", "u1", {"a": 1}), kind, now=now)
>>> saved.version, load_draft(Session(engine), "note", "1", now=now).payload
(1, {'a': 1})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .config import ONE_DAY
from .documents import DraftError, DraftTooLarge, check_document
from .kinds import DraftKind, DraftValidationError
from .merge import merge_patch
from .models import Draft, DraftRequest

T = TypeVar("T")
MAX_RACES = 50
"""Attempts of one write before DraftBusy; each lost race means another write succeeded."""
MAX_VERSION = 2**31 - 2
"""The largest version a precondition can name: the next one still fits an INTEGER column."""
DRAFTS = cast(Table, Draft.__table__)
REQUESTS = cast(Table, DraftRequest.__table__)


class PreconditionFailed(DraftError):
    """``If-Match`` names a version that is not the current one; ``current`` is what is stored."""

    def __init__(self, current: DraftState | None) -> None:
        super().__init__("the draft changed since the version you hold")
        self.current = current


class IdempotencyKeyReused(DraftError):
    """An ``Idempotency-Key`` already used for a different request body on this draft."""


class DraftBusy(DraftError):
    """The write lost ``MAX_RACES`` races in a row; the client should retry later."""


@dataclass(frozen=True, slots=True)
class DraftState:
    """A stored draft as callers see it."""

    kind: str
    key: str
    owner_id: str
    payload: Any
    version: int
    created_at: datetime
    updated_at: datetime
    client_saved_at: datetime | None
    expires_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The JSON body of the draft endpoints."""
        return {
            "kind": self.kind,
            "key": self.key,
            "version": self.version,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "client_saved_at": _iso(self.client_saved_at),
            "expires_at": _iso(self.expires_at),
        }


@dataclass(frozen=True, slots=True)
class IfMatch:
    """The tags of ``If-Match`` or ``If-None-Match``: any of ``versions``, or ``*`` (any draft)."""

    versions: frozenset[int] = frozenset()
    any: bool = False

    def matches(self, current: DraftState | None) -> bool:
        """RFC 9110: with no current draft nothing matches, not even ``*``."""
        return current is not None and (self.any or current.version in self.versions)


@dataclass(frozen=True, slots=True)
class Write:
    """One write: ``body`` replaces the payload, or is merged into it (RFC 7396) when ``merge``.

    ``idempotency_key`` and ``request_hash`` together make a retried write replay its first
    response. ``if_match`` must match the stored draft and ``if_none_match`` must not (``*``:
    there must be no draft, so a first save cannot replace one its client never saw); both None
    is an unconditional write. ``supersedes`` lifts the precondition for one case: the stored
    version was written by one of these idempotency keys, i.e. by this same client's earlier
    saves whose answers it never received, so its newer state may replace them.
    """

    kind: str
    key: str
    owner_id: str
    body: Any
    merge: bool = False
    if_match: IfMatch | None = None
    client_saved_at: datetime | None = None
    idempotency_key: str | None = None
    request_hash: str = ""
    if_none_match: IfMatch | None = None
    supersedes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Saved:
    """The outcome of an accepted write: the response body, and whether it is a replay."""

    body: dict[str, Any]
    replayed: bool = False

    @property
    def version(self) -> int:
        return int(self.body["version"])


class _Raced(Exception):
    """Another writer committed between our read and our conditional update."""


def load_draft(session: Session, kind: str, key: str, *, now: datetime) -> DraftState | None:
    """The live draft, or None when there is none or it has expired."""
    opened_here = not session.in_transaction()
    row = session.execute(select(DRAFTS).where(*_draft_is(kind, key))).first()
    if opened_here:
        session.commit()  # end the read at once: a reader must not hold SQLite's snapshot open
    return _live(row, now)


def save_draft(
    session: Session,
    write: Write,
    kind: DraftKind,
    *,
    now: datetime,
    idempotency_ttl: int = ONE_DAY,
) -> Saved:
    """Apply ``write`` and commit, or raise a DraftError and change nothing.

    Call it on a session with no transaction open: each attempt of a raced write is its own
    transaction.
    """
    if _has_fast_path(write):
        try:
            with session.begin():
                saved = _save_fast(session, write, kind, now)
            if saved is not None:
                return saved
        except IntegrityError:  # the key was used before: the full path replays or refuses
            pass
    cutoff = now - timedelta(seconds=idempotency_ttl)
    return _retrying(session, lambda: _save_once(session, write, kind, now, cutoff))


def delete_draft(
    session: Session, kind: str, key: str, *, now: datetime, if_match: IfMatch | None = None
) -> bool:
    """Delete the draft (True when a live one existed); ``if_match`` guards it like a write."""
    return _retrying(session, lambda: _delete_once(session, kind, key, now, if_match))


def purge_expired(session: Session, *, now: datetime, idempotency_ttl: int = ONE_DAY) -> int:
    """Delete expired drafts and idempotency records past their TTL; returns rows deleted.

    Expired drafts already read as absent; this only reclaims their space, so run it from a
    periodic job as often as suits.
    """
    cutoff = now - timedelta(seconds=idempotency_ttl)
    with session.begin():
        drafts = session.execute(delete(DRAFTS).where(DRAFTS.c.expires_at < now))
        requests = session.execute(delete(REQUESTS).where(REQUESTS.c.created_at < cutoff))
    return int(drafts.rowcount) + int(requests.rowcount)  # type: ignore[attr-defined]


def _retrying(session: Session, attempt: Callable[[], T]) -> T:
    for _ in range(MAX_RACES):
        try:
            with session.begin():
                return attempt()
        except (_Raced, IntegrityError):
            continue  # a fresh read sees the winner: replay, 412, or apply on top of it
    raise DraftBusy("the draft is being written by too many clients at once; retry shortly")


def _save_once(
    session: Session, write: Write, kind: DraftKind, now: datetime, cutoff: datetime
) -> Saved:
    row = _locked_row(session, write.kind, write.key)
    if write.idempotency_key is not None:
        replay = _replay(session, write, cutoff)
        if replay is not None:
            return replay
    live = _live(row, now)
    if not _preconditions_hold(write, live) and not _written_by(session, write, live, cutoff):
        raise PreconditionFailed(live)
    document = merge_patch(live.payload if live else {}, write.body) if write.merge else write.body
    check_document(document, kind)
    values = {
        "owner_id": write.owner_id,
        "payload": document,
        "updated_at": now,
        "client_saved_at": write.client_saved_at,
        "expires_at": now + kind.ttl if kind.ttl is not None else None,
        "created_at": live.created_at if live else now,
    }
    version = 1 if row is None else row.version + 1
    if row is None:
        session.execute(insert(DRAFTS).values(kind=write.kind, key=write.key, version=1, **values))
    else:
        guard = (DRAFTS.c.id == row.id, DRAFTS.c.version == row.version)
        result = session.execute(update(DRAFTS).where(*guard).values(version=version, **values))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _Raced()
    state = DraftState(write.kind, write.key, version=version, **values)
    saved = Saved(state.as_json())
    if write.idempotency_key is not None:
        _remember(session, write, saved, now, cutoff)
    return saved


def _has_fast_path(write: Write) -> bool:
    """A PUT naming exactly one version: what autosave.js sends on every save."""
    match = write.if_match
    if write.merge or write.if_none_match is not None or match is None or match.any:
        return False
    return len(match.versions) == 1 and 0 < min(match.versions) <= MAX_VERSION


def _preconditions_hold(write: Write, live: DraftState | None) -> bool:
    """RFC 9110 section 13.2.2 order: If-Match first, then If-None-Match."""
    if write.if_match is not None and not write.if_match.matches(live):
        return False
    return write.if_none_match is None or not write.if_none_match.matches(live)


def _written_by(session: Session, write: Write, live: DraftState | None, cutoff: datetime) -> bool:
    """Whether the stored version is the outcome of one of ``write.supersedes``' requests.

    The idempotency record is committed with the write it describes, so its version is exactly
    the version that request produced; a later write by anyone else moves the draft past it.
    """
    if live is None or not write.supersedes:
        return False
    responses = session.execute(
        select(REQUESTS.c.response).where(
            REQUESTS.c.kind == write.kind,
            REQUESTS.c.key == write.key,
            REQUESTS.c.idempotency_key.in_(sorted(write.supersedes)),
            REQUESTS.c.created_at >= cutoff,
        )
    ).scalars()
    return any(isinstance(r, dict) and r.get("version") == live.version for r in responses)


def _save_fast(session: Session, write: Write, kind: DraftKind, now: datetime) -> Saved | None:
    """The common save in one statement: ``UPDATE ... WHERE version = :if_match RETURNING``.

    None means "not this way" (stale version, no live draft, invalid document, or a retry) and
    the caller takes the full path, which gives the precise answer: 412, 422, 413 or a replay.
    A retried request never succeeds here: its first try already moved the version on.
    """
    (expected,) = write.if_match.versions if write.if_match is not None else (0,)
    try:
        check_document(write.body, kind)
    except (DraftValidationError, DraftTooLarge):
        return None
    values = {
        "owner_id": write.owner_id,
        "payload": write.body,
        "updated_at": now,
        "client_saved_at": write.client_saved_at,
        "expires_at": now + kind.ttl if kind.ttl is not None else None,
    }
    live = or_(DRAFTS.c.expires_at.is_(None), DRAFTS.c.expires_at > now)
    statement = (
        update(DRAFTS)
        .where(*_draft_is(write.kind, write.key), DRAFTS.c.version == expected, live)
        .values(version=expected + 1, **values)
        .returning(DRAFTS.c.created_at)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    created_at = _utc(row.created_at) or now
    state = DraftState(write.kind, write.key, version=expected + 1, created_at=created_at, **values)
    saved = Saved(state.as_json())
    if write.idempotency_key is not None:
        session.execute(insert(REQUESTS).values(**_request_record(write, saved, now)))
    return saved


def _delete_once(
    session: Session, kind: str, key: str, now: datetime, if_match: IfMatch | None
) -> bool:
    row = _locked_row(session, kind, key)
    live = _live(row, now)
    if if_match is not None and not if_match.matches(live):
        raise PreconditionFailed(live)
    if row is None:
        return False
    guard = (DRAFTS.c.id == row.id, DRAFTS.c.version == row.version)
    if session.execute(delete(DRAFTS).where(*guard)).rowcount != 1:  # type: ignore[attr-defined]
        raise _Raced()
    return live is not None


def _replay(session: Session, write: Write, cutoff: datetime) -> Saved | None:
    found = session.execute(
        select(REQUESTS.c.request_hash, REQUESTS.c.response).where(
            REQUESTS.c.kind == write.kind,
            REQUESTS.c.key == write.key,
            REQUESTS.c.idempotency_key == write.idempotency_key,
            REQUESTS.c.created_at >= cutoff,
        )
    ).first()
    if found is None:
        return None
    if found.request_hash != write.request_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request on this draft"
        )
    return Saved(dict(found.response), replayed=True)


def _remember(
    session: Session, write: Write, saved: Saved, now: datetime, cutoff: datetime
) -> None:
    """Record the response; first drop this draft's expired records so a reused key fits."""
    session.execute(
        delete(REQUESTS).where(
            REQUESTS.c.kind == write.kind,
            REQUESTS.c.key == write.key,
            or_(
                REQUESTS.c.created_at < cutoff, REQUESTS.c.idempotency_key == write.idempotency_key
            ),
        )
    )
    session.execute(insert(REQUESTS).values(**_request_record(write, saved, now)))


def _request_record(write: Write, saved: Saved, now: datetime) -> dict[str, Any]:
    return {
        "kind": write.kind,
        "key": write.key,
        "idempotency_key": write.idempotency_key,
        "request_hash": write.request_hash,
        "response": saved.body,
        "created_at": now,
    }


def _locked_row(session: Session, kind: str, key: str) -> Row[Any] | None:
    """The draft's row, locked on PostgreSQL until commit (SQLite ignores FOR UPDATE)."""
    query = select(DRAFTS).where(*_draft_is(kind, key)).with_for_update()
    return session.execute(query).first()


def _draft_is(kind: str, key: str) -> tuple[Any, ...]:
    return (DRAFTS.c.kind == kind, DRAFTS.c.key == key)


def _live(row: Row[Any] | None, now: datetime) -> DraftState | None:
    if row is None:
        return None
    expires_at = _utc(row.expires_at)
    if expires_at is not None and expires_at <= now:
        return None
    return DraftState(
        kind=row.kind,
        key=row.key,
        owner_id=row.owner_id,
        payload=row.payload,
        version=row.version,
        created_at=_utc(row.created_at) or now,
        updated_at=_utc(row.updated_at) or now,
        client_saved_at=_utc(row.client_saved_at),
        expires_at=expires_at,
    )


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
