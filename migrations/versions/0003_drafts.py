"""Autosave drafts (resilience_drafts) and idempotent-write records (resilience_draft_requests).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "resilience_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resilience_drafts")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_resilience_drafts_kind")),
    )
    op.create_index(
        op.f("ix_resilience_drafts_owner_id"), "resilience_drafts", ["owner_id"], unique=False
    )
    op.create_index(
        op.f("ix_resilience_drafts_expires_at"), "resilience_drafts", ["expires_at"], unique=False
    )
    op.create_table(
        "resilience_draft_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resilience_draft_requests")),
        sa.UniqueConstraint(
            "kind", "key", "idempotency_key", name=op.f("uq_resilience_draft_requests_kind")
        ),
    )
    op.create_index(
        "ix_resilience_draft_requests_created_at",
        "resilience_draft_requests",
        ["created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_resilience_draft_requests_created_at", table_name="resilience_draft_requests")
    op.drop_table("resilience_draft_requests")
    op.drop_index(op.f("ix_resilience_drafts_expires_at"), table_name="resilience_drafts")
    op.drop_index(op.f("ix_resilience_drafts_owner_id"), table_name="resilience_drafts")
    op.drop_table("resilience_drafts")
