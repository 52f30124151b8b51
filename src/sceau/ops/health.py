"""The service's health checks, shared by ``/healthz`` and the SLA heartbeat."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from sqlalchemy import text

from sceau.db import Database, storage_failure, storage_reason, utcnow
from sceau.hsm.errors import HsmUnavailable
from sceau.pki.keystore import PublicKey, SignatureKey
from sceau.pki.service import ServicePki
from sceau.pki.signatures import sign, verify

logger = logging.getLogger(__name__)


def health_checks(db: Database, pki: Callable[[], ServicePki]) -> dict[str, str]:
    """Each check's result, "ok" or "indisponible": the database answers, and
    the service's keys are loaded, match their certificates and are in force."""
    results = {"base_de_donnees": "ok", "cles": "ok"}
    try:
        with db.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        # Any failure here means "not usable"; the log says which. A database
        # away is an outage, not a bug: one line, without the trace.
        if storage_failure(exc) is None:
            logger.exception("healthz.database_failed")
        else:
            logger.error(
                "healthz.database_failed", extra={"reason": storage_reason(exc)}
            )
        results["base_de_donnees"] = "indisponible"

    try:
        loaded = pki()
        now = utcnow()
        for certificate in (loaded.root_cert, loaded.issuing_cert, loaded.tsa_cert):
            if (
                not certificate.not_valid_before_utc
                <= now
                < certificate.not_valid_after_utc
            ):
                raise ValueError(
                    f"{certificate.subject.rfc4514_string()} not valid now"
                )
        _prove_key(loaded.issuing_key, loaded.issuing_cert.public_key())  # type: ignore[arg-type]
        _prove_key(loaded.tsa_key, loaded.tsa_cert.public_key())  # type: ignore[arg-type]
    except HsmUnavailable as exc:
        # The token away (or a key missing from it) is what the pool has
        # logged already.
        logger.error("healthz.keys_failed", extra={"reason": exc.code})
        results["cles"] = "indisponible"
    except Exception:
        # Same: a key that cannot sign or a lapsed certificate is "not usable".
        logger.exception("healthz.keys_failed")
        results["cles"] = "indisponible"
    return results


def _prove_key(key: SignatureKey, public_key: PublicKey) -> None:
    """Sign a probe and verify it: the key is loaded (or its token answers)
    and matches its certificate."""
    probe = b"pixel-sceau healthz"
    signature = sign(key, probe, hashes.SHA256())
    verify(public_key, signature, probe, hashes.SHA256())
