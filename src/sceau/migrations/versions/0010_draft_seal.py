"""Web signer: the visible seal chosen for a draft (a corner, or none).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-11 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite alters a table by rebuilding it.
    with op.batch_alter_table("web_drafts") as batch:
        batch.add_column(sa.Column("seal", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_drafts") as batch:
        batch.drop_column("seal")
