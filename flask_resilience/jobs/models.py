"""The job outbox table: jobs accepted while Redis was unreachable, waiting for the relay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from .._foundation.database import Base


class OutboxJob(Base):
    """One job to push into RQ; its id is the job id the caller already holds.

    ``payload`` is JSON: the task's spec (import path, queue, retry policy) and the arguments,
    so the relay needs no import of the task's module.
    """

    __tablename__ = "resilience_job_outbox"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    enqueue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
