"""Persistent rules the adaptive healer learned, shared by every process of a fleet.

A restarted fleet loads these at start instead of relearning from zero.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from .._foundation.database import Base


class LearnedRule(Base):
    """The healing strategy that works best for one failure signature of one policy."""

    __tablename__ = "resilience_learned_rules"
    __table_args__ = (UniqueConstraint("policy", "signature"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(String(300))
    exception_type: Mapped[str] = mapped_column(String(200))
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    strategy: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    observations: Mapped[int] = mapped_column(Integer)
    base_backoff_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
