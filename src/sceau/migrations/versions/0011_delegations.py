"""Delegations and their envelopes, the clients' catalogues of act kinds, and
what a signature or an act declared (kind, amount) and what allowed it
(delegation, authority matrix version).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "act_types",
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_act_types_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "code", name=op.f("pk_act_types")),
    )

    op.create_table(
        "delegations",
        sa.Column("ref", sa.String(24), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("code_09", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("act_types", sa.Text(), nullable=False),
        sa.Column("max_amount", sa.BigInteger(), nullable=True),
        sa.Column("amount_inclusive", sa.Boolean(), nullable=False),
        sa.Column("weekdays", sa.String(16), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=True),
        sa.Column("sha256_document", sa.String(64), nullable=False),
        sa.Column("signature_ref", sa.String(24), nullable=True),
        sa.Column("created_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("signed_at", sceau.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", sceau.db.UTCDateTime(), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_delegations_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_delegations_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_delegations")),
    )
    op.create_index(op.f("ix_delegations_client_id"), "delegations", ["client_id"])
    op.create_index(
        "ix_delegations_person_client_status",
        "delegations",
        ["person_id", "client_id", "status"],
    )

    op.create_table(
        "delegation_documents",
        sa.Column("ref", sa.String(24), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ref"],
            ["delegations.ref"],
            name=op.f("fk_delegation_documents_ref_delegations"),
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_delegation_documents")),
    )

    op.create_table(
        "delegation_daily_uses",
        sa.Column("delegation_ref", sa.String(24), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delegation_ref"],
            ["delegations.ref"],
            name=op.f("fk_delegation_daily_uses_delegation_ref_delegations"),
        ),
        sa.PrimaryKeyConstraint(
            "delegation_ref", "day", name=op.f("pk_delegation_daily_uses")
        ),
    )

    op.create_table(
        "delegation_refusals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("delegation_ref", sa.String(24), nullable=True),
        sa.Column("limit", sa.String(32), nullable=False),
        sa.Column("act_type", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("person_notified", sa.Boolean(), nullable=False),
        sa.Column("at", sceau.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_delegation_refusals_client_id_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_delegation_refusals_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["delegation_ref"],
            ["delegations.ref"],
            name=op.f("fk_delegation_refusals_delegation_ref_delegations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegation_refusals")),
    )
    op.create_index(
        "ix_delegation_refusals_person_client_at",
        "delegation_refusals",
        ["person_id", "client_id", "at"],
    )

    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("act_type", sa.String(64), nullable=True))
        batch.add_column(sa.Column("amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("delegation_ref", sa.String(24), nullable=True))
        batch.add_column(sa.Column("matrix_version", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_signatures_delegation_ref"), ["delegation_ref"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_signatures_delegation_ref_delegations"),
            "delegations",
            ["delegation_ref"],
            ["ref"],
        )
    with op.batch_alter_table("acts") as batch:
        batch.add_column(sa.Column("act_type", sa.String(64), nullable=True))
        batch.add_column(sa.Column("amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("matrix_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acts") as batch:
        batch.drop_column("matrix_version")
        batch.drop_column("amount")
        batch.drop_column("act_type")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_constraint(
            batch.f("fk_signatures_delegation_ref_delegations"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_signatures_delegation_ref"))
        batch.drop_column("matrix_version")
        batch.drop_column("delegation_ref")
        batch.drop_column("amount")
        batch.drop_column("act_type")
    op.drop_index("ix_delegation_refusals_person_client_at", "delegation_refusals")
    op.drop_table("delegation_refusals")
    op.drop_table("delegation_daily_uses")
    op.drop_table("delegation_documents")
    op.drop_index("ix_delegations_person_client_status", "delegations")
    op.drop_index(op.f("ix_delegations_client_id"), "delegations")
    op.drop_table("delegations")
    op.drop_table("act_types")
