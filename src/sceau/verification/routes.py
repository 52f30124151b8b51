"""``/api/v1/sceau/verifier``: public verification of a signed PDF, and the
service's own record of a signature by its reference. No API key: anyone who
holds the document (or the reference) may ask, within a rate per address.

The report is JSON, or (``?format=pdf``, or ``Accept: application/pdf``) a
French PDF signed by Pixel Sceau itself."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sceau.errors import PayloadTooLarge, UnsupportedMediaType
from sceau.http import (
    MalformedJson,
    decode_pdf_b64,
    frozen_now,
    read_body,
    runtime_of,
)
from sceau.modes.pipeline import SignatureOutcome
from sceau.ops.middleware import BodyTooLarge
from sceau.signing.errors import PdfTooLarge
from sceau.verification.errors import DocumentMissing
from sceau.verification.limits import VerificationLimiter
from sceau.verification.report import DocumentReport
from sceau.verification.report_pdf import signed_report_pdf
from sceau.verification.service import recorded_signature, verify_pdf

router = APIRouter(tags=["Vérification publique"])

FILE_FIELD = "fichier"
PDF = "application/pdf"
REPORT_REF_HEADER = "X-Ref-Signature-Rapport"
ReportFormat = Literal["json", "pdf"]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Le rapport, en JSON ou en PDF signé par Pixel Sceau.",
        "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
    },
    413: {"description": "Corps ou PDF au-delà de la taille autorisée."},
    415: {"description": "Ni multipart/form-data ni JSON."},
    422: {"description": "Aucun document, ou un fichier qui n'est pas un PDF lisible."},
    429: {"description": "Trop de vérifications depuis cette adresse (Retry-After)."},
}


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pdf_b64: str


@router.post(
    "/api/v1/sceau/verifier",
    responses=_RESPONSES,
    summary="Vérifier les signatures d'un PDF (public)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            FILE_FIELD: {"type": "string", "format": "binary"}
                        },
                        "required": [FILE_FIELD],
                        # Other fields of the form are ignored.
                        "additionalProperties": True,
                    }
                },
                "application/json": {"schema": VerifyRequest.model_json_schema()},
            },
        }
    },
)
async def verify(
    request: Request,
    format: ReportFormat | None = Query(  # noqa: B008
        None,
        description="json (par défaut) ou pdf : le rapport en PDF signé par "
        "Pixel Sceau. Sans ce paramètre, « Accept: application/pdf » suffit.",
    ),
) -> Response:
    """Rapport de vérification : chaque signature, son verdict ETSI et une
    explication en une phrase, puis le verdict du document."""
    runtime = runtime_of(request)
    await run_in_threadpool(count_verification, request)
    pdf = await _document(request)
    if len(pdf) > runtime.settings.max_pdf_bytes:
        raise PdfTooLarge(
            "Le PDF dépasse la taille maximale de "
            f"{runtime.settings.max_pdf_bytes} octets."
        )
    report = await run_in_threadpool(verify_pdf, runtime, pdf)
    if _wants_pdf(request, format):
        outcome = await run_in_threadpool(signed_report_pdf, runtime, report)
        return report_pdf_response(outcome, report)
    return JSONResponse(report.as_api())


@router.get(
    "/api/v1/sceau/verifier/{ref_signature}",
    responses={
        404: {"description": "Aucune signature de cette référence."},
        429: _RESPONSES[429],
    },
    summary="Consulter l'enregistrement d'une signature Pixel Sceau (public)",
)
async def read_recorded(ref_signature: str, request: Request) -> JSONResponse:
    """Ce que Pixel Sceau a enregistré pour cette signature, sans le document."""
    # Counted like a verification: the reference space must not be walked.
    await run_in_threadpool(count_verification, request)
    recorded = await run_in_threadpool(
        recorded_signature, runtime_of(request), ref_signature
    )
    return JSONResponse(recorded.as_api())


def count_verification(request: Request) -> None:
    """Count one request against the caller's per-address rate, or refuse it
    (429); the pages count theirs here too, so both share one budget."""
    _limiter(request).count(_address(request), frozen_now(request))


def report_pdf_response(outcome: SignatureOutcome, report: DocumentReport) -> Response:
    return Response(
        outcome.signed_pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": "attachment; "
            f'filename="{report_filename(report)}.pdf"',
            REPORT_REF_HEADER: outcome.record.ref,
        },
    )


def report_json_response(report: DocumentReport) -> Response:
    body = json.dumps(report.as_api(), ensure_ascii=False, indent=2)
    return Response(
        body.encode(),
        media_type="application/json",
        headers={
            "Content-Disposition": "attachment; "
            f'filename="{report_filename(report)}.json"'
        },
    )


def report_filename(report: DocumentReport) -> str:
    return f"rapport-verification-{report.sha256[:12]}"


def _wants_pdf(request: Request, format: ReportFormat | None) -> bool:
    if format is not None:
        return format == "pdf"
    accepted = [
        part.split(";")[0].strip().lower()
        for part in request.headers.get("accept", "").split(",")
    ]
    return PDF in accepted and "application/json" not in accepted


def _limiter(request: Request) -> VerificationLimiter:
    limiter: VerificationLimiter | None = getattr(
        request.app.state, "verification_limiter", None
    )
    if limiter is None:
        runtime = runtime_of(request)
        limiter = VerificationLimiter(
            runtime.db,
            runtime.settings.load_master_key(),
            runtime.settings.verification_rate_per_minute,
        )
        request.app.state.verification_limiter = limiter
    return limiter


def _address(request: Request) -> str | None:
    peer = request.scope.get("state", {}).get("peer")
    return getattr(peer, "address", None)


async def _document(request: Request) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _uploaded(request)
    if media_type == "application/json":
        return _decoded(await read_body(request))
    raise UnsupportedMediaType(
        "Envoyez le PDF en multipart/form-data (champ « fichier ») ou en JSON "
        "(champ « pdf_b64 »)."
    )


async def _uploaded(request: Request) -> bytes:
    limit = runtime_of(request).settings.max_body_bytes
    try:
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get(FILE_FIELD)
            if not isinstance(upload, UploadFile):
                raise DocumentMissing()
            return await upload.read()
    except BodyTooLarge as exc:
        raise PayloadTooLarge(
            f"Le corps de la requête dépasse la taille autorisée ({limit} octets)."
        ) from exc


def _decoded(body: bytes) -> bytes:
    try:
        parsed = VerifyRequest.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise MalformedJson() from None
        raise DocumentMissing() from None
    return decode_pdf_b64(parsed.pdf_b64)
