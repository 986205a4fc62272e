"""The draft tables: one row per draft, and the remembered responses of idempotent writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .._foundation.database import Base

# JSONB on PostgreSQL stores the payload parsed (smaller, indexable); JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class Draft(Base):
    """The latest unsaved state of one thing a user is editing (``kind`` + ``key``).

    ``version`` grows by one per accepted write and is the draft's strong ETag, so a writer
    holding an old version is refused instead of silently overwriting a newer save.
    ``updated_at`` is the server's clock; ``client_saved_at`` is the browser's, kept so a client
    can tell whether its local backup is newer than what the server holds.
    """

    __tablename__ = "resilience_drafts"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[Any] = mapped_column(JSONDocument)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_saved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class DraftRequest(Base):
    """The first response to a write sent with an ``Idempotency-Key``, replayed to its retries.

    Written in the same transaction as the draft, so a write and its record commit together or
    not at all, and a concurrent duplicate loses on the unique constraint and replays instead.
    """

    __tablename__ = "resilience_draft_requests"
    __table_args__ = (
        UniqueConstraint("kind", "key", "idempotency_key"),
        Index("ix_resilience_draft_requests_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[Any] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
