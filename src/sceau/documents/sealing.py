"""Pixel Sceau signing in its own name: a system identity of the service,
``09S-PIXELSCEAU-…`` of the client ``cli_pixelsceau`` ("Pixel Sceau"), made
the first time a document needs it.

Its signatures take the path of every other (``sign_and_record``): a record in
``signatures``, the signed file kept for the retention period, an anchoring
request and a ``signature.signee`` event. They are found, and verified, like
any client's; only billing will leave this client out.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import IntegrityError

from sceau.audit.actors import Actor
from sceau.clients.models import Client
from sceau.errors import ConfigurationError
from sceau.identities.codes import SYSTEM_PREFIX, make_code
from sceau.identities.models import Identity
from sceau.identities.service import KIND_SYSTEM, issue_identity
from sceau.modes.pipeline import SignatureOutcome, SigningJob, sign_and_record
from sceau.modes.system import MODE_SYSTEM
from sceau.ops.logs import request_id_var
from sceau.runtime import Runtime
from sceau.signing.engine import Level

logger = logging.getLogger(__name__)

SERVICE_CLIENT_ID = "cli_pixelsceau"
SERVICE_NAME = "Pixel Sceau"
SERVICE_CODE_09 = str(make_code(SYSTEM_PREFIX, "PIXELSCEAU"))
SERVICE_LABEL = "Pixel Sceau – documents du service"
# B-LT: the report carries the CRLs it needs to be checked again years later,
# when the signing certificate has expired.
DEFAULT_LEVEL: Level = "B-LT"


def service_identity(runtime: Runtime) -> Identity:
    """The service's own identity, created on first need. Two processes may
    race to create it: both write the same primary keys, one wins, and the
    other reads the winner's."""
    found = _load(runtime)
    if found is not None:
        return found
    try:
        with runtime.db.transaction() as session:
            session.add(
                Client(id=SERVICE_CLIENT_ID, name=SERVICE_NAME, plan="enterprise")
            )
            session.flush()
            issue_identity(
                session,
                runtime.pki,
                runtime.sealer,
                code=SERVICE_CODE_09,
                kind=KIND_SYSTEM,
                client_id=SERVICE_CLIENT_ID,
                label=SERVICE_LABEL,
                organisation=SERVICE_NAME,
                algorithm="ecdsa-p256",
                by=Actor.service(),
            )
        logger.info(
            "documents.service_identity_created", extra={"code_09": SERVICE_CODE_09}
        )
    except IntegrityError:
        logger.info("documents.service_identity_race_lost")
    found = _load(runtime)
    if found is None:
        raise ConfigurationError(
            f"the service identity {SERVICE_CODE_09} could not be created"
        )
    return found


def _load(runtime: Runtime) -> Identity | None:
    with runtime.db.sessions() as session:
        identity = session.get(Identity, SERVICE_CODE_09)
    if identity is None:
        return None
    if identity.client_id != SERVICE_CLIENT_ID or identity.revoked_at is not None:
        # An operator gave the code to a client, or revoked it: signing in
        # the service's name under it would be a lie, so nothing is signed.
        raise ConfigurationError(
            f"{SERVICE_CODE_09} is reserved for Pixel Sceau's own documents; it "
            f"belongs to {identity.client_id} or is revoked"
        )
    return identity


def sign_as_service(
    runtime: Runtime, pdf: bytes, reason: str, *, level: Level = DEFAULT_LEVEL
) -> SignatureOutcome:
    """Sign ``pdf`` as Pixel Sceau itself, invisibly, and record it."""
    identity = service_identity(runtime)
    return sign_and_record(
        runtime,
        SigningJob(
            client_id=SERVICE_CLIENT_ID,
            identity=identity,
            mode=MODE_SYSTEM,
            reason=reason,
            pdf=pdf,
            level=level,
            request_id=request_id_var.get() or "",
            started=time.perf_counter(),
            actor=Actor.service(),
        ),
    )
