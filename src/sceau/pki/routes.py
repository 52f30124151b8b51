"""``/pki/…``: the root and issuing CA certificates and their CRLs, at stable
URLs named in every certificate the service issues."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sceau.http import runtime_of
from sceau.runtime import Runtime

router = APIRouter(prefix="/pki", tags=["PKI"])

_CACHE = {"Cache-Control": "public, max-age=3600"}


@router.get("/root.crt", response_class=Response, summary="Certificat racine (PEM)")
async def root_certificate(request: Request) -> Response:
    return Response(
        runtime_of(request).pki.root_pem(),
        media_type="application/x-pem-file",
        headers=_CACHE,
    )


@router.get("/issuing.crt", response_class=Response, summary="AC émettrice (DER)")
async def issuing_certificate(request: Request) -> Response:
    der = runtime_of(request).pki.issuing_cert.public_bytes(Encoding.DER)
    return Response(der, media_type="application/pkix-cert", headers=_CACHE)


@router.get("/root.crl", response_class=Response, summary="LCR de la racine (DER)")
async def root_crl(request: Request) -> Response:
    der = await run_in_threadpool(_crl, runtime_of(request), "root")
    return Response(der, media_type="application/pkix-crl", headers=_CACHE)


@router.get("/issuing.crl", response_class=Response, summary="LCR de l'AC émettrice")
async def issuing_crl(request: Request) -> Response:
    der = await run_in_threadpool(_crl, runtime_of(request), "issuing")
    return Response(der, media_type="application/pkix-crl", headers=_CACHE)


def _crl(runtime: Runtime, which: str) -> bytes:
    with runtime.db.sessions() as session:
        return runtime.pki.crl_der(which, session)


@router.get(
    "/access.crt", response_class=Response, summary="AC d'accès (TLS mutuel, PEM)"
)
async def access_certificate(request: Request) -> Response:
    return Response(
        runtime_of(request).access_ca.certificate_pem,
        media_type="application/x-pem-file",
        headers=_CACHE,
    )


@router.get("/access.crl", response_class=Response, summary="LCR de l'AC d'accès")
async def access_crl(request: Request) -> Response:
    der = await run_in_threadpool(_access_crl, runtime_of(request))
    # Revocations of client certificates show at once: no caching.
    return Response(
        der, media_type="application/pkix-crl", headers={"Cache-Control": "no-cache"}
    )


def _access_crl(runtime: Runtime) -> bytes:
    with runtime.db.sessions() as session:
        return runtime.access_ca.crl(session).public_bytes(Encoding.DER)
