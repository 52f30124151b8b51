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

from sceau.audit.actors import Actor
from sceau.errors import SceauError
from sceau.evidence.links import check_link, issue_link, link_key
from sceau.evidence.routes import json_response, pdf_response, peer_address
from sceau.evidence.service import (
    evidence_pdf,
    public_signature_story,
    signed_by_the_service,
)
from sceau.http import error_response, runtime_of
from sceau.ops.logs import mask_ip
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


# -- the evidence file, for whoever just uploaded the signed document ----------
# The upload is the proof of possession: the page links each Pixel Sceau
# signature it recognised to its evidence file with a capability valid one
# hour (sceau.evidence.links). The JSON link answers its errors in JSON, with
# their code; the PDF link, as a page.

EVIDENCE_PATH = "/dossier-de-preuve"


@router.get(EVIDENCE_PATH + "/{ref}.json")
def evidence_json_download(
    ref: str, request: Request, expire: str = "", jeton: str = ""
) -> Response:
    try:
        check_link(_link_key(request), ref, expire, jeton, now=now_of(request))
        # Computed at each request: as costly as a verification, it counts
        # as one.
        count_verification(request)
        story = public_signature_story(runtime_of(request), ref)
    except SceauError as error:
        return secure_headers(error_response(error, headers=error.headers))
    return secure_headers(json_response(story, now_of(request)))


@router.get(EVIDENCE_PATH + "/{ref}.pdf")
def evidence_pdf_download(
    ref: str, request: Request, expire: str = "", jeton: str = ""
) -> Response:
    runtime = runtime_of(request)
    check_link(_link_key(request), ref, expire, jeton, now=now_of(request))
    # A new file is signed, which costs like a verification.
    count_verification(request)
    story = public_signature_story(runtime, ref)
    visitor = Actor.visitor(address=mask_ip(peer_address(request)))
    issued = evidence_pdf(runtime, story, actor=visitor, now=now_of(request))
    return secure_headers(pdf_response(issued, story.subject))


def _evidence_links(
    request: Request, report: DocumentReport | None
) -> list[dict[str, str] | None]:
    """Per signature of the report, in its order: the links to its evidence
    file, when Pixel Sceau recognised it as one of its own."""
    if report is None:
        return []
    key = _link_key(request)
    own = signed_by_the_service(
        runtime_of(request), [s.recorded.ref for s in report.signatures if s.recorded]
    )
    links: list[dict[str, str] | None] = []
    for signature in report.signatures:
        # The service's own documents (reports, evidence files) get none:
        # evidence of evidence would grow without end.
        if signature.recorded is None or signature.recorded.ref in own:
            links.append(None)
            continue
        link = issue_link(key, signature.recorded.ref, now=now_of(request))
        base = f"{VERIFICATION_PAGE_PATH}{EVIDENCE_PATH}/{link.ref}"
        links.append(
            {"pdf": f"{base}.pdf?{link.query()}", "json": f"{base}.json?{link.query()}"}
        )
    return links


def _link_key(request: Request) -> bytes:
    return link_key(runtime_of(request).settings.load_master_key())


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
            "evidence_links": _evidence_links(request, report),
            "max_size": _megabytes(settings.max_pdf_bytes),
        },
        status=error.status if error else 200,
        headers=error.headers if error else None,
    )


def _key(request: Request) -> bytes:
    return report_key(runtime_of(request).settings.load_master_key())


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo".replace(".", ",")
