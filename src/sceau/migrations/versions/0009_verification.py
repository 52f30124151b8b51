"""Public verification: requests counted per source and minute.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_counts",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("window_start", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "source", "window_start", name=op.f("pk_verification_counts")
        ),
    )
    op.create_index(
        op.f("ix_verification_counts_window_start"),
        "verification_counts",
        ["window_start"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_verification_counts_window_start"), table_name="verification_counts"
    )
    op.drop_table("verification_counts")
