"""Authority matrices: one row per published version of a client's matrix.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-15 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authority_matrices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=False),
        sa.Column("overdue_policy", sa.String(16), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("review_notice_at", sceau.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_authority_matrices_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_matrices")),
        sa.UniqueConstraint(
            "client_id", "version", name=op.f("uq_authority_matrices_client_id")
        ),
    )
    op.create_index(
        op.f("ix_authority_matrices_review_due"), "authority_matrices", ["review_due"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_authority_matrices_review_due"), table_name="authority_matrices"
    )
    op.drop_table("authority_matrices")
