"""Client integration life cycle: state and its recorded transitions.

Clients that existed before the life cycle were already signing: they are
put in production, which is the first step of their history. Signatures get
an index by client and time, for the pilot's daily count and the SLA.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-20 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column(
                "state", sa.String(16), nullable=False, server_default="production"
            )
        )
        batch.add_column(sa.Column("service_agreement", sa.Text(), nullable=True))
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("state", server_default=None)
    op.create_table(
        "client_state_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("agreement", sa.Text(), nullable=True),
        sa.Column("at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_state_changes_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_state_changes")),
    )
    op.create_index(
        op.f("ix_client_state_changes_client_id"),
        "client_state_changes",
        ["client_id"],
        unique=False,
    )
    # Each existing client's history starts with the step it was put at.
    op.execute(
        "INSERT INTO client_state_changes (client_id, from_state, to_state, "
        "actor, at) SELECT id, NULL, 'production', 'migration', created_at "
        "FROM clients"
    )
    op.create_index(
        "ix_signatures_client_id_signed_at",
        "signatures",
        ["client_id", "signed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_signatures_client_id_signed_at", table_name="signatures")
    op.drop_index(
        op.f("ix_client_state_changes_client_id"), table_name="client_state_changes"
    )
    op.drop_table("client_state_changes")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("service_agreement")
        batch.drop_column("state")
