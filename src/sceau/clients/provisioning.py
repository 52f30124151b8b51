"""Technical provisioning (the sheet's step 4) in one unit of work: a client,
its system identity with a signing certificate, and a level-A API key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.clients.models import Client
from sceau.clients.service import IssuedKey, create_api_key, create_client
from sceau.identities.models import Identity
from sceau.identities.service import create_system_identity
from sceau.lifecycle.models import PROVISIONED
from sceau.pki.keystore import KeyAlgorithm, KeySealer
from sceau.pki.service import ServicePki


@dataclass(frozen=True)
class Provisioning:
    client: Client
    identity: Identity
    key: IssuedKey


def provision_system_client(
    session: Session,
    pki: ServicePki,
    sealer: KeySealer,
    *,
    name: str,
    label: str,
    body: str | None = None,
    algorithm: KeyAlgorithm = "rsa3072",
    plan: str = "pay_as_you_go",
    state: str = PROVISIONED,
    actor: str = "operateur",
    by: Actor,
) -> Provisioning:
    """Step 4 of an integration in one go: the client, its system identity
    and an API key; the client starts at ``state`` (by default
    ``provisionne``: it signs once the operator opens its pilot)."""
    client = create_client(session, name, plan, state=state, actor=actor, by=by)
    identity = create_system_identity(
        session,
        pki,
        sealer,
        client_id=client.id,
        label=label,
        body=body,
        algorithm=algorithm,
        by=by,
    )
    return Provisioning(client, identity, create_api_key(session, client.id, by=by))
