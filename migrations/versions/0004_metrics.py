"""Metric tables: resilience_metrics (live) and resilience_metrics_archive.

On PostgreSQL both are declared ``PARTITION BY RANGE (recorded_at)`` (Alembic passes
``postgresql_partition_by`` through to the CREATE TABLE) and the live table gets its DEFAULT
partition with raw DDL, since Alembic has no ``PARTITION OF``. Monthly partitions are not created
here: ``flask resilience partitions ensure`` (and the recording path) create them, and
autogenerate ignores them (see ``flask_resilience.schema.include_object``).

On SQLite both are plain tables whose ``id`` is ``INTEGER PRIMARY KEY AUTOINCREMENT``, the rowid:
AUTOINCREMENT so that ids of archived rows are never handed out again (plain rowids restart at
``max(rowid) + 1``, and re-archiving a reused id fails on the archive's key). This is the DDL the
models emit on SQLite too (``flask_resilience.archive.models``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "resilience_metrics"
ARCHIVE = "resilience_metrics_archive"


def _create(name: str, *, postgres: bool, identity: bool) -> None:
    options: dict[str, object] = {}
    if postgres:
        id_column = sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False)
        if not identity:
            id_column = sa.Column("id", sa.BigInteger(), nullable=False)
        keys: tuple[sa.PrimaryKeyConstraint, ...] = (
            sa.PrimaryKeyConstraint("id", "recorded_at", name=f"pk_{name}"),
        )
        labels: sa.types.TypeEngine[object] = postgresql.JSONB()
        options["postgresql_partition_by"] = "RANGE (recorded_at)"
    else:
        id_column = sa.Column("id", sa.Integer(), primary_key=True, nullable=False)
        keys = ()
        labels = sa.JSON()
        options["sqlite_autoincrement"] = True
    op.create_table(
        name,
        id_column,
        sa.Column("series", sa.Text(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("labels", labels, nullable=True),
        *keys,
        **options,
    )
    op.create_index(f"ix_{name}_series_step", name, ["series", "step"])
    op.create_index(
        f"ix_{name}_series_recorded_at",
        name,
        ["series", "recorded_at"],
        postgresql_include=["value"],
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _create(LIVE, postgres=postgres, identity=True)
    _create(ARCHIVE, postgres=postgres, identity=False)
    if postgres:
        op.execute(f"CREATE TABLE {LIVE}_default PARTITION OF {LIVE} DEFAULT")


def downgrade() -> None:
    # Dropping a partitioned table drops every partition (live, default and archived months).
    for name in (ARCHIVE, LIVE):
        op.drop_index(f"ix_{name}_series_recorded_at", table_name=name)
        op.drop_index(f"ix_{name}_series_step", table_name=name)
        op.drop_table(name)
