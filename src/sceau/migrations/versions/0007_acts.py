"""Acts: documents a client prepares for one of its people to sign, and the
bytes of each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acts",
        sa.Column("ref", sa.String(24), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("code_09", sa.String(40), nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("sha256_source", sa.String(64), nullable=False),
        sa.Column("size_source", sa.Integer(), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("decided_at", sceau.db.UTCDateTime(), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("signature_ref", sa.String(24), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_acts_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_acts_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["signature_ref"],
            ["signatures.ref"],
            name=op.f("fk_acts_signature_ref_signatures"),
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_acts")),
    )
    op.create_index(op.f("ix_acts_client_id"), "acts", ["client_id"])
    op.create_index(op.f("ix_acts_person_id"), "acts", ["person_id"])
    op.create_index("ix_acts_status_expires_at", "acts", ["status", "expires_at"])

    op.create_table(
        "act_documents",
        sa.Column("ref", sa.String(24), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ref"], ["acts.ref"], name=op.f("fk_act_documents_ref_acts")
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_act_documents")),
    )


def downgrade() -> None:
    op.drop_table("act_documents")
    op.drop_index("ix_acts_status_expires_at", table_name="acts")
    op.drop_index(op.f("ix_acts_person_id"), table_name="acts")
    op.drop_index(op.f("ix_acts_client_id"), table_name="acts")
    op.drop_table("acts")
