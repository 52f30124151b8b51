"""People: professionals with a personal identity, their enrolment links,
recovery codes and failed logins.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("profession", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("code_09", sa.String(40), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("totp_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("enrolled_at", sceau.db.UTCDateTime(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sceau.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", sceau.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_persons_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["code_09"],
            ["identities.code_09"],
            name=op.f("fk_persons_code_09_identities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("code_09", name=op.f("uq_persons_code_09")),
        sa.UniqueConstraint("email", name=op.f("uq_persons_email")),
    )
    op.create_index(op.f("ix_persons_client_id"), "persons", ["client_id"])

    op.create_table(
        "person_enrolment_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("pending_totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sceau.db.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sceau.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_person_enrolment_tokens_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_enrolment_tokens")),
        sa.UniqueConstraint(
            "token_hash", name=op.f("uq_person_enrolment_tokens_token_hash")
        ),
    )
    op.create_index(
        op.f("ix_person_enrolment_tokens_person_id"),
        "person_enrolment_tokens",
        ["person_id"],
    )

    op.create_table(
        "person_recovery_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", sceau.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_person_recovery_codes_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_recovery_codes")),
    )
    op.create_index(
        op.f("ix_person_recovery_codes_person_id"),
        "person_recovery_codes",
        ["person_id"],
    )

    op.create_table(
        "person_login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("at", sceau.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_login_failures")),
    )
    op.create_index(
        "ix_person_login_failures_address_at",
        "person_login_failures",
        ["address", "at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_person_login_failures_address_at", table_name="person_login_failures"
    )
    op.drop_table("person_login_failures")
    op.drop_index(
        op.f("ix_person_recovery_codes_person_id"), table_name="person_recovery_codes"
    )
    op.drop_table("person_recovery_codes")
    op.drop_index(
        op.f("ix_person_enrolment_tokens_person_id"),
        table_name="person_enrolment_tokens",
    )
    op.drop_table("person_enrolment_tokens")
    op.drop_index(op.f("ix_persons_client_id"), table_name="persons")
    op.drop_table("persons")
