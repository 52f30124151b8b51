"""Plans, plan changes, usage records and invoices.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-20 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("plan", sa.String(40), nullable=False),
        sa.Column("previous_plan", sa.String(40), nullable=False),
        sa.Column("effective_month", sa.String(7), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("unit_price_xof", sa.Integer(), nullable=True),
        sa.Column("monthly_fee_xof", sa.Integer(), nullable=True),
        sa.Column("included_signatures", sa.Integer(), nullable=True),
        sa.Column("after_plan", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_plan_changes_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_changes")),
    )
    op.create_index(op.f("ix_plan_changes_client_id"), "plan_changes", ["client_id"])

    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("signature_ref", sa.String(24), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("plan", sa.String(40), nullable=False),
        sa.Column("signed_at", sceau.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_usage_records_client_id_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["signature_ref"],
            ["signatures.ref"],
            name=op.f("fk_usage_records_signature_ref_signatures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint(
            "signature_ref", name=op.f("uq_usage_records_signature_ref")
        ),
    )
    op.create_index(
        "ix_usage_records_client_month", "usage_records", ["client_id", "month"]
    )

    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("plan", sa.String(40), nullable=False),
        sa.Column("issued_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("subtotal_xof", sa.BigInteger(), nullable=False),
        sa.Column("credits_xof", sa.BigInteger(), nullable=False),
        sa.Column("total_xof", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("corrects", sa.String(24), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("signature_ref", sa.String(24), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_invoices_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    op.create_index(op.f("ix_invoices_client_id"), "invoices", ["client_id"])
    op.create_index(
        "uq_invoices_facture_month",
        "invoices",
        ["client_id", "month"],
        unique=True,
        sqlite_where=sa.text("kind = 'facture'"),
        postgresql_where=sa.text("kind = 'facture'"),
    )

    op.create_table(
        "invoice_counters",
        sa.Column("series", sa.String(16), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_invoice_counters")),
    )

    op.create_table(
        "billing_notices",
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("done_at", sceau.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_billing_notices_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("client_id", "kind", name=op.f("pk_billing_notices")),
    )


def downgrade() -> None:
    op.drop_table("billing_notices")
    op.drop_table("invoice_counters")
    op.drop_index("uq_invoices_facture_month", table_name="invoices")
    op.drop_index(op.f("ix_invoices_client_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("ix_usage_records_client_month", table_name="usage_records")
    op.drop_table("usage_records")
    op.drop_index(op.f("ix_plan_changes_client_id"), table_name="plan_changes")
    op.drop_table("plan_changes")
