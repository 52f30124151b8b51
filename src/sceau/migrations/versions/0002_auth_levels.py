"""Client authentication levels B and C: HMAC secrets and nonces, client
certificates, IP allowlists, key overlap, refusal counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 10:43:58.136987
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=48), nullable=False),
        sa.Column("at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    op.create_index(
        "ix_auth_failures_address_at", "auth_failures", ["address", "at"], unique=False
    )
    op.create_table(
        "hmac_nonces",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name=op.f("pk_hmac_nonces")),
    )
    op.create_index(
        op.f("ix_hmac_nonces_expires_at"), "hmac_nonces", ["expires_at"], unique=False
    )
    op.create_table(
        "client_certificates",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("serial_hex", sa.String(length=48), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("not_after", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_certificates_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_client_certificates")),
        sa.UniqueConstraint(
            "serial_hex", name=op.f("uq_client_certificates_serial_hex")
        ),
    )
    op.create_index(
        op.f("ix_client_certificates_client_id"),
        "client_certificates",
        ["client_id"],
        unique=False,
    )
    op.create_table(
        "hmac_secrets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_hmac_secrets_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hmac_secrets")),
    )
    op.create_index(
        op.f("ix_hmac_secrets_client_id"), "hmac_secrets", ["client_id"], unique=False
    )
    op.add_column(
        "api_keys",
        sa.Column("expires_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "api_keys",
        sa.Column("last_used_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "clients",
        sa.Column(
            "auth_level", sa.String(length=1), server_default="A", nullable=False
        ),
    )
    op.add_column(
        "clients",
        sa.Column("ip_allowlist", sa.Text(), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("clients", "ip_allowlist")
    op.drop_column("clients", "auth_level")
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "expires_at")
    op.drop_index(op.f("ix_hmac_secrets_client_id"), table_name="hmac_secrets")
    op.drop_table("hmac_secrets")
    op.drop_index(
        op.f("ix_client_certificates_client_id"), table_name="client_certificates"
    )
    op.drop_table("client_certificates")
    op.drop_index(op.f("ix_hmac_nonces_expires_at"), table_name="hmac_nonces")
    op.drop_table("hmac_nonces")
    op.drop_index("ix_auth_failures_address_at", table_name="auth_failures")
    op.drop_table("auth_failures")
