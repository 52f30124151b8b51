"""Billing fixtures: clients on a given plan and signatures metered at a
given time, written as the pipeline writes them (a signature record, then
``record_usage`` in the same transaction), without signing a PDF each."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from sceau.billing.service import record_usage
from sceau.clients.models import Client
from sceau.lifecycle.models import ClientStateChange
from sceau.runtime import Runtime
from sceau.signing.models import SignatureRecord
from tests.conftest import Provisioned, provision

# Clients are made today but billed for months each test chooses: their
# creation, and the integration step they were created at, are moved back
# before all of them (a fee is owed for the months a client could sign in).
CREATED = datetime(2025, 1, 1, tzinfo=UTC)


def client_on(
    runtime: Runtime, name: str, plan: str, *, state: str = "production"
) -> Provisioned:
    """A provisioned client on ``plan`` at step ``state``, as if created
    there at ``CREATED``."""
    body = "".join(c for c in name.upper() if c.isalpha())[:10] + "SYS"
    made = provision(runtime, name=name, body=body, algorithm="ecdsa-p256", state=state)
    backdate(runtime, made, CREATED, plan=plan)
    return made


def backdate(
    runtime: Runtime, client: Provisioned, created: datetime, *, plan: str
) -> None:
    """Move ``client``'s creation and first step back to ``created``, on
    ``plan``."""
    with runtime.db.transaction() as session:
        session.execute(
            update(Client)
            .where(Client.id == client.client_id)
            .values(plan=plan, created_at=created)
        )
        session.execute(
            update(ClientStateChange)
            .where(
                ClientStateChange.client_id == client.client_id,
                ClientStateChange.from_state.is_(None),
            )
            .values(at=created)
        )


def metered(
    runtime: Runtime,
    client: Provisioned,
    count: int,
    at: datetime,
    *,
    mode: str = "systeme",
    spacing: timedelta = timedelta(seconds=1),
) -> None:
    """``count`` signatures of ``client`` from ``at`` on, each metered."""
    digest = hashlib.sha256(b"billing").hexdigest()
    with runtime.db.transaction() as session:
        for number in range(count):
            signed_at = at + number * spacing
            record = SignatureRecord(
                ref="SIG-T" + secrets.token_hex(8).upper(),
                client_id=client.client_id,
                code_09=client.code_09,
                mode=mode,
                level="B-T",
                reason="Facturation de test",
                signer_name=client.label,
                sha256_source=digest,
                sha256_signed=digest,
                size_source=1,
                size_signed=1,
                ref_horodatage="HRD-TEST",
                request_id="req-test",
                duration_ms=1,
                signed_at=signed_at,
                keep_until=signed_at + timedelta(days=365),
            )
            session.add(record)
            session.flush()
            record_usage(session, record)
