"""Identity keys in a PKCS#11 token: a key is either sealed in the row or
named by its label in the token.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-28 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("key_label", sa.String(200), nullable=True))
        batch.alter_column("sealed_key", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # A key in the token has nothing to put back in sealed_key.
    in_token = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM identities WHERE key_label IS NOT NULL")
    )
    if in_token.scalar_one():
        raise RuntimeError(
            "identities hold keys in a PKCS#11 token: they cannot go back to a "
            "schema without key_label"
        )
    with op.batch_alter_table("identities") as batch:
        batch.alter_column("sealed_key", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("key_label")
