"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from sceau.db import utcnow
from sceau.http import runtime_of
from sceau.ops.metrics import REGISTRY
from sceau.pki.keystore import PrivateKey
from sceau.runtime import Runtime

logger = logging.getLogger(__name__)

router = APIRouter(tags=["Exploitation"])


@router.get("/healthz", summary="État du service")
async def healthz(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(_checks, runtime_of(request))
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"statut": "ok" if healthy else "degrade", **checks},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", response_class=Response, summary="Métriques Prometheus")
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _checks(runtime: Runtime) -> dict[str, str]:
    results = {"base_de_donnees": "ok", "cles": "ok"}
    try:
        with runtime.db.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        # Any failure here means "not usable"; the log says which.
        logger.exception("healthz.database_failed")
        results["base_de_donnees"] = "indisponible"

    try:
        pki = runtime.pki
        now = utcnow()
        for certificate in (pki.root_cert, pki.issuing_cert, pki.tsa_cert):
            if (
                not certificate.not_valid_before_utc
                <= now
                < certificate.not_valid_after_utc
            ):
                raise ValueError(
                    f"{certificate.subject.rfc4514_string()} not valid now"
                )
        _prove_key(pki.issuing_key, pki.issuing_cert.public_key())
        _prove_key(pki.tsa_key, pki.tsa_cert.public_key())
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
