"""Durable events: outbox, deliveries and attempts, webhook endpoints,
incidents, and the clients' contact e-mail and incident channel.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 11:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sceau.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("contact_email", sa.String(320), nullable=True))
        batch.add_column(
            sa.Column(
                "incident_channel",
                sa.String(8),
                nullable=False,
                server_default="both",
            )
        )

    op.create_table(
        "events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(48), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_events_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
    )
    op.create_index(op.f("ix_events_subject"), "events", ["subject"])

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("previous_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column(
            "previous_secret_until", sceau.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("failing_since", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_webhook_endpoints_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_client_id"), "webhook_endpoints", ["client_id"]
    )

    op.create_table(
        "deliveries",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("endpoint_id", sa.String(32), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("destination", sa.String(400), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", sceau.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column(
            "lease_expires_at", sceau.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name=op.f("fk_deliveries_event_seq_events")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_deliveries_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_deliveries_endpoint_id_webhook_endpoints"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("id", name=op.f("uq_deliveries_id")),
    )
    op.create_index(op.f("ix_deliveries_client_id"), "deliveries", ["client_id"])
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index(
        "ix_deliveries_destination", "deliveries", ["destination", "status", "seq"]
    )

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("started_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_seq"],
            ["deliveries.seq"],
            name=op.f("fk_delivery_attempts_delivery_seq_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_delivery_attempts_delivery_seq"),
        "delivery_attempts",
        ["delivery_seq"],
    )

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("opened_at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sceau.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_table(
        "incident_updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", sceau.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_updates_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    op.create_index(
        op.f("ix_incident_updates_incident_id"), "incident_updates", ["incident_id"]
    )


def downgrade() -> None:
    op.drop_table("incident_updates")
    op.drop_table("incidents")
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("events")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("incident_channel")
        batch.drop_column("contact_email")
