"""Index signatures by their anchoring reference: a confirmed batch finds the
signatures (and callback URLs) of its documents without a full scan.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 11:55:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_signatures_ref_horodatage"),
        "signatures",
        ["ref_horodatage"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_signatures_ref_horodatage"), table_name="signatures")
