"""The audit trail (entries chained by SHA-256, their head, the anchors of the
head, a look-up of references) and the evidence files made from it.

The entries and anchors are append-only: the database refuses an UPDATE or a
DELETE on them.

Revision ID: 0018
Revises: 0017
Create Date: 2027-01-04 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
APPEND_ONLY = ("audit_entries", "audit_anchors")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=True),
        sa.Column("subject", sa.String(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.execute(
        sa.text(
            "INSERT INTO audit_head (id, seq, hash, updated_at) "
            "VALUES (1, 0, :genesis, CURRENT_TIMESTAMP)"
        ).bindparams(genesis=GENESIS)
    )
    op.create_table(
        "audit_anchors",
        sa.Column("seq", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=False),
        sa.Column("tsa_time", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("anchor_ref", sa.String(16), nullable=False),
    )
    op.create_index("ix_audit_anchors_anchor_ref", "audit_anchors", ["anchor_ref"])
    op.create_table(
        "audit_refs",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer(), autoincrement=False, primary_key=True),
    )
    op.create_table(
        "evidence_files",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("diffusion", sa.String(12), nullable=False),
        sa.Column("signature_ref", sa.String(24), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "subject", "content_sha256", name="uq_evidence_files_subject_content"
        ),
    )
    for table in APPEND_ONLY:
        _refuse_changes(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_FUNCTION)


# On PostgreSQL an append is one round trip: the head locked, each entry's
# text completed with the previous hash and hashed, the entries, their
# references and the new head written. ``sceau.audit.service`` hands it each
# entry's canonical text cut where the previous hash goes; SQLite does the
# same steps in Python.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION sceau_audit_append(
    prefixes text[], suffixes text[], ats timestamptz[], actions text[],
    clients text[], subjects text[], refs text[], ref_entries integer[]
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    head_seq integer;
    head_hash text;
    entry_body text;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash
        FROM audit_head WHERE id = 1 FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(prefixes, 1), 0) LOOP
        entry_body := prefixes[i] || head_hash || suffixes[i];
        head_hash := encode(sha256(convert_to(entry_body, 'UTF8')), 'hex');
        head_seq := head_seq + 1;
        INSERT INTO audit_entries (seq, at, action, client_id, subject, body, hash)
            VALUES (head_seq, ats[i], actions[i], clients[i], subjects[i],
                    entry_body, head_hash);
        INSERT INTO audit_refs (ref, seq)
            SELECT refs[j], head_seq FROM generate_subscripts(refs, 1) AS j
            WHERE ref_entries[j] = i;
    END LOOP;
    UPDATE audit_head SET seq = head_seq, hash = head_hash,
        updated_at = clock_timestamp() WHERE id = 1;
    RETURN head_seq;
END $$
"""


def _refuse_changes(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION sceau_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'% is append-only', TG_TABLE_NAME; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION sceau_append_only()"
        )
        return
    for change in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{change.lower()} BEFORE {change} "
            f"ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("evidence_files")
    op.drop_table("audit_refs")
    op.drop_table("audit_anchors")
    op.drop_table("audit_head")
    op.drop_table("audit_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS sceau_append_only()")
        op.execute(
            "DROP FUNCTION IF EXISTS sceau_audit_append(text[], text[], "
            "timestamptz[], text[], text[], text[], text[], integer[])"
        )
