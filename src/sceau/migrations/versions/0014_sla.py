"""SLA measurements: request minutes and health heartbeats.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-20 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_request_minutes",
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("minute", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("server_errors", sa.Integer(), nullable=False),
        sa.Column("le_25", sa.Integer(), nullable=False),
        sa.Column("le_50", sa.Integer(), nullable=False),
        sa.Column("le_100", sa.Integer(), nullable=False),
        sa.Column("le_200", sa.Integer(), nullable=False),
        sa.Column("le_300", sa.Integer(), nullable=False),
        sa.Column("le_400", sa.Integer(), nullable=False),
        sa.Column("le_500", sa.Integer(), nullable=False),
        sa.Column("le_600", sa.Integer(), nullable=False),
        sa.Column("le_800", sa.Integer(), nullable=False),
        sa.Column("le_1000", sa.Integer(), nullable=False),
        sa.Column("le_1500", sa.Integer(), nullable=False),
        sa.Column("le_2000", sa.Integer(), nullable=False),
        sa.Column("le_3000", sa.Integer(), nullable=False),
        sa.Column("le_5000", sa.Integer(), nullable=False),
        sa.Column("le_10000", sa.Integer(), nullable=False),
        sa.Column("le_inf", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_sla_request_minutes_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint(
            "client_id", "minute", "kind", name=op.f("pk_sla_request_minutes")
        ),
    )
    op.create_table(
        "sla_heartbeats",
        sa.Column("minute", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("minute", name=op.f("pk_sla_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("sla_heartbeats")
    op.drop_table("sla_request_minutes")
