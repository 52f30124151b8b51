"""The delegation pages under ``/signer/delegations``: the delegations a
company officer was offered, each read page by page, then signed with a fresh
TOTP code or refused with a reason; once in force, downloaded as signed or
revoked at once.

Revoking asks for the session, the form's CSRF token and a ticked
confirmation, not a TOTP code: it only takes a power away, and a person who
suspects misuse must be able to stop it without waiting for a new code.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from sceau.delegations.errors import DelegationNotFound, DocumentMismatch
from sceau.delegations.person import (
    refuse_delegation,
    revoke_delegation,
    sign_delegation,
)
from sceau.errors import SceauError
from sceau.http import peer_address, runtime_of
from sceau.modes.refusals import shown_sha256
from sceau.ops.logs import request_id_var
from sceau.web import delegations, drafts
from sceau.web.errors import RevocationNotConfirmed
from sceau.web.pages import (
    PREFIX,
    now_of,
    redirect,
    render,
    secure_headers,
)
from sceau.web.routes import Person, PersonPost, pdf_response
from sceau.web.sessions import SignedIn

PAGES = f"{PREFIX}/delegations"
# The value of the revocation form's checkbox when ticked.
CONFIRMED = "oui"

router = APIRouter(prefix=PAGES, include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def delegations_page(request: Request, who: Person) -> Response:
    with runtime_of(request).db.sessions() as session:
        grouped = delegations.person_delegations(session, who, now=now_of(request))
    return render(
        request,
        "delegations.html",
        {
            "grouped": grouped,
            "status_labels": delegations.STATUS_LABELS,
            "ended_at": delegations.ended_at,
        },
        who=who,
    )


@router.get("/{ref}", response_class=HTMLResponse)
def delegation_page(
    ref: str, request: Request, who: Person, fait: str = ""
) -> Response:
    return _delegation(request, who, ref, done=fait, consulted=True)


@router.post("/{ref}/signature", response_class=HTMLResponse)
def delegation_sign(
    ref: str,
    request: Request,
    who: PersonPost,
    code: Annotated[str, Form()] = "",
    sha256: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    address = peer_address(request)
    try:
        sign_delegation(
            runtime,
            person_id=who.person_id,
            ref=ref,
            totp_code=code,
            shown_sha256=sha256,
            request_id=request_id_var.get() or "",
            now=now_of(request),
            presence=drafts.presence_of(runtime, who, address),
        )
    except DelegationNotFound:
        raise
    except SceauError as error:
        drafts.record_refused_signature(
            runtime,
            who,
            error,
            address=address,
            objects={"delegation": ref},
            request_id=request_id_var.get(),
            now=now_of(request),
            details=shown_sha256(sha256)
            if isinstance(error, DocumentMismatch)
            else None,
        )
        return _delegation(request, who, ref, sign_error=error)
    return redirect(request, f"{PAGES}/{ref}?fait=signee")


@router.post("/{ref}/refus", response_class=HTMLResponse)
def delegation_refuse(
    ref: str,
    request: Request,
    who: PersonPost,
    motif_refus: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            refuse_delegation(
                session,
                person_id=who.person_id,
                ref=ref,
                reason=motif_refus,
                now=now_of(request),
                address=peer_address(request),
            )
    except DelegationNotFound:
        raise
    except SceauError as error:
        return _delegation(
            request, who, ref, refuse_error=error, refusal_draft=motif_refus[:500]
        )
    return redirect(request, f"{PAGES}/{ref}")


@router.post("/{ref}/revocation", response_class=HTMLResponse)
def delegation_revoke(
    ref: str,
    request: Request,
    who: PersonPost,
    confirmation: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    try:
        if confirmation != CONFIRMED:
            # Drawn on the delegation's page, which is a 404 for another's.
            raise RevocationNotConfirmed()
        with runtime.db.transaction() as session:
            revoke_delegation(
                session,
                person_id=who.person_id,
                ref=ref,
                now=now_of(request),
                address=peer_address(request),
            )
    except DelegationNotFound:
        raise
    except SceauError as error:
        return _delegation(request, who, ref, revoke_error=error)
    return redirect(request, f"{PAGES}/{ref}?fait=revoquee")


@router.get("/{ref}/pages/{number}.png")
def delegation_page_image(
    ref: str, number: int, request: Request, who: Person
) -> Response:
    png = delegations.delegation_page_png(
        runtime_of(request), who, ref, number, now=now_of(request)
    )
    return secure_headers(Response(png, media_type="image/png"))


@router.get("/{ref}/document.pdf")
def delegation_document_download(ref: str, request: Request, who: Person) -> Response:
    pdf = delegations.document_pdf(runtime_of(request), who, ref, now=now_of(request))
    return pdf_response(pdf, f"{ref}-a-signer.pdf")


@router.get("/{ref}/pdf")
def delegation_signed_download(ref: str, request: Request, who: Person) -> Response:
    pdf = delegations.signed_pdf(runtime_of(request), who, ref)
    return pdf_response(pdf, f"{ref}-signee.pdf")


def _delegation(
    request: Request,
    who: SignedIn,
    ref: str,
    *,
    done: str = "",
    sign_error: SceauError | None = None,
    refuse_error: SceauError | None = None,
    revoke_error: SceauError | None = None,
    refusal_draft: str = "",
    consulted: bool = False,
) -> Response:
    reading = delegations.read_delegation(
        runtime_of(request), who, ref, now=now_of(request)
    )
    if consulted:
        delegations.record_consultation(
            runtime_of(request),
            who,
            reading,
            address=peer_address(request),
            now=now_of(request),
        )
    error = sign_error or refuse_error or revoke_error
    return render(
        request,
        "delegation.html",
        {
            "reading": reading,
            "state": reading.state,
            "delegation": reading.state.delegation,
            "done": done,
            "sign_error": sign_error,
            "refuse_error": refuse_error,
            "revoke_error": revoke_error,
            "refusal_draft": refusal_draft,
        },
        status=error.status if error else 200,
        who=who,
        headers=error.headers if error else None,
    )
