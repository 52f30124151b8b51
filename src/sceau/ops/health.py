"""The service's health checks, shared by ``/healthz`` and the SLA heartbeat."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import text

from sceau.db import Database, utcnow
from sceau.pki.keystore import PrivateKey
from sceau.pki.service import ServicePki

logger = logging.getLogger(__name__)


def health_checks(db: Database, pki: Callable[[], ServicePki]) -> dict[str, str]:
    """Each check's result, "ok" or "indisponible": the database answers, and
    the service's keys are loaded, match their certificates and are in force."""
    results = {"base_de_donnees": "ok", "cles": "ok"}
    try:
        with db.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        # Any failure here means "not usable"; the log says which.
        logger.exception("healthz.database_failed")
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
        _prove_key(loaded.issuing_key, loaded.issuing_cert.public_key())
        _prove_key(loaded.tsa_key, loaded.tsa_cert.public_key())
    except Exception:
        # Same: a key that cannot sign or a lapsed certificate is "not usable".
        logger.exception("healthz.keys_failed")
        results["cles"] = "indisponible"
    return results


def _prove_key(key: PrivateKey, public_key: object) -> None:
    """Sign a probe and verify it: the key is loaded and matches its certificate."""
    probe = b"pixel-sceau healthz"
    if isinstance(key, rsa.RSAPrivateKey):
        assert isinstance(public_key, rsa.RSAPublicKey)
        signature = key.sign(probe, padding.PKCS1v15(), hashes.SHA256())
        public_key.verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())
        return
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    signature = key.sign(probe, ec.ECDSA(hashes.SHA256()))
    public_key.verify(signature, probe, ec.ECDSA(hashes.SHA256()))
