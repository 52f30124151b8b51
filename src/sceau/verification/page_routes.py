"""``/verifier-signature``: the public page where anyone drops a signed PDF
and reads its verification, first in plain words, then in detail; and where
the QR code of a visible seal leads (``?ref=SIG-…``).

Same service functions as the API (``verify_pdf``, ``recorded_signature``),
same per-address rate, and the same pages as the web signer (``sceau.web.
pages``): French, no script, strict CSP, errors as pages. The downloads carry
the report back sealed (``sealed_reports``): neither the document nor its
report is kept on the server.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from sceau.errors import SceauError
from sceau.http import runtime_of
from sceau.signing.errors import PdfTooLarge
from sceau.verification.errors import DocumentMissing
from sceau.verification.links import VERIFICATION_PAGE_PATH
from sceau.verification.report import DocumentReport, RecordedSignature
from sceau.verification.report_pdf import signed_report_pdf
from sceau.verification.routes import (
    count_verification,
    report_json_response,
    report_pdf_response,
)
from sceau.verification.sealed_reports import (
    SealedReport,
    open_report,
    report_key,
    seal_report,
)
from sceau.verification.service import recorded_signature, verify_pdf
from sceau.verification.wording import describe, recorded_facts
from sceau.web.pages import (
    VISITOR_COOKIE,
    check_csrf,
    now_of,
    render,
    secure_headers,
    visitor_token,
)

router = APIRouter(prefix=VERIFICATION_PAGE_PATH, include_in_schema=False)


async def visitor_form(request: Request) -> None:
    """No account here: the form's token is bound to the visitor cookie."""
    await check_csrf(request, None)


VisitorPost = Annotated[None, Depends(visitor_form)]


@router.get("", response_class=HTMLResponse)
def verification_page(request: Request, ref: str = "") -> Response:
    if not ref:
        return _page(request)
    try:
        count_verification(request)
        recorded = recorded_signature(runtime_of(request), ref.strip())
    except SceauError as error:
        return _page(request, error=error)
    return _page(request, recorded=recorded)


@router.post("", response_class=HTMLResponse)
def verification_submit(
    request: Request,
    _: VisitorPost,
    fichier: Annotated[UploadFile | None, File()] = None,
) -> Response:
    runtime = runtime_of(request)
    limit = runtime.settings.max_pdf_bytes
    try:
        count_verification(request)
        if fichier is None or not fichier.filename:
            raise DocumentMissing("Choisissez le fichier PDF signé à vérifier.")
        pdf = fichier.file.read(limit + 1)
        if len(pdf) > limit:
            raise PdfTooLarge(
                f"Le fichier dépasse la taille maximale de {_megabytes(limit)}."
            )
        report = verify_pdf(runtime, pdf)
    except SceauError as error:
        return _page(request, error=error)
    return _page(request, report=report)


@router.post("/rapport")
def report_download(
    request: Request,
    _: VisitorPost,
    rapport: Annotated[str, Form()] = "",
    expire: Annotated[int, Form()] = 0,
    sceau: Annotated[str, Form()] = "",
    format: Annotated[Literal["json", "pdf"], Form()] = "pdf",
) -> Response:
    """The report the page showed, as JSON or as a PDF signed by Pixel Sceau."""
    runtime = runtime_of(request)
    report = open_report(
        _key(request),
        request.cookies.get(VISITOR_COOKIE),
        SealedReport(rapport, expire, sceau),
        now=now_of(request),
    )
    if format == "json":
        return secure_headers(report_json_response(report))
    # Signing costs like a verification: it counts as one.
    count_verification(request)
    return secure_headers(
        report_pdf_response(signed_report_pdf(runtime, report), report)
    )


def _page(
    request: Request,
    *,
    error: SceauError | None = None,
    recorded: RecordedSignature | None = None,
    report: DocumentReport | None = None,
) -> Response:
    settings = runtime_of(request).settings
    sealed = None
    if report is not None:
        sealed = seal_report(
            _key(request), visitor_token(request), report, now=now_of(request)
        )
    return render(
        request,
        "verification.html",
        {
            "error": error,
            "recorded": recorded,
            "recorded_facts": recorded_facts(recorded) if recorded else (),
            "view": describe(report) if report else None,
            "sealed": sealed,
            "max_size": _megabytes(settings.max_pdf_bytes),
        },
        status=error.status if error else 200,
        headers=error.headers if error else None,
    )


def _key(request: Request) -> bytes:
    return report_key(runtime_of(request).settings.load_master_key())


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo".replace(".", ",")
