"""Learned healing rules (resilience_learned_rules).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resilience_learned_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=200), nullable=False),
        sa.Column("signature", sa.String(length=300), nullable=False),
        sa.Column("exception_type", sa.String(length=200), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("base_backoff_ms", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resilience_learned_rules")),
        sa.UniqueConstraint("policy", "signature", name=op.f("uq_resilience_learned_rules_policy")),
    )


def downgrade() -> None:
    op.drop_table("resilience_learned_rules")
