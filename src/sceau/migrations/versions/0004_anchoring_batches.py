"""Anchoring batches: one Merkle root per interval, its OpenTimestamps tree,
calendar states and the Bitcoin confirmation; each anchor's path to its root.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 11:08:02.466158
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "anchor_batches",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("proof", sa.LargeBinary(), nullable=True),
        sa.Column("calendars", sa.Text(), nullable=False),
        sa.Column("submit_attempts", sa.Integer(), nullable=False),
        sa.Column("next_submit_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "next_upgrade_at", sceau.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("block_height", sa.Integer(), nullable=True),
        sa.Column("block_time", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("block_hash", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchor_batches")),
    )
    op.create_index(
        op.f("ix_anchor_batches_next_submit_at"),
        "anchor_batches",
        ["next_submit_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_anchor_batches_next_upgrade_at"),
        "anchor_batches",
        ["next_upgrade_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_anchor_batches_status"), "anchor_batches", ["status"], unique=False
    )
    # Batch mode: SQLite adds a foreign key only by rebuilding the table.
    with op.batch_alter_table("anchors") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("path", sa.LargeBinary(), nullable=True))
        batch.create_index(op.f("ix_anchors_batch_id"), ["batch_id"], unique=False)
        batch.create_foreign_key(
            op.f("fk_anchors_batch_id_anchor_batches"),
            "anchor_batches",
            ["batch_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("anchors") as batch:
        batch.drop_constraint(
            op.f("fk_anchors_batch_id_anchor_batches"), type_="foreignkey"
        )
        batch.drop_index(op.f("ix_anchors_batch_id"))
        batch.drop_column("path")
        batch.drop_column("batch_id")
    op.drop_index(op.f("ix_anchor_batches_status"), table_name="anchor_batches")
    op.drop_index(
        op.f("ix_anchor_batches_next_upgrade_at"), table_name="anchor_batches"
    )
    op.drop_index(op.f("ix_anchor_batches_next_submit_at"), table_name="anchor_batches")
    op.drop_table("anchor_batches")
