"""The act pages under ``/signer/actes``: the act a client's system prepared,
read page by page by the person it names, then signed with a fresh TOTP code
or refused with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from sceau.acts.errors import ActNotFound, DocumentMismatch
from sceau.acts.person import refuse_act, sign_act
from sceau.errors import SceauError
from sceau.http import peer_address, runtime_of
from sceau.modes.refusals import shown_sha256
from sceau.ops.logs import request_id_var
from sceau.web import acts, drafts
from sceau.web.pages import (
    PREFIX,
    now_of,
    redirect,
    render,
    secure_headers,
)
from sceau.web.routes import LEVEL_LABELS, Person, PersonPost, pdf_response
from sceau.web.sessions import SignedIn

router = APIRouter(prefix=f"{PREFIX}/actes", include_in_schema=False)


@router.get("/{ref}", response_class=HTMLResponse)
def act_page(ref: str, request: Request, who: Person) -> Response:
    return _act(request, who, ref, consulted=True)


@router.post("/{ref}/signer", response_class=HTMLResponse)
def act_sign(
    ref: str,
    request: Request,
    who: PersonPost,
    code: Annotated[str, Form()] = "",
    sha256: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    address = peer_address(request)
    try:
        state = sign_act(
            runtime,
            person_id=who.person_id,
            ref=ref,
            totp_code=code,
            shown_sha256=sha256,
            request_id=request_id_var.get() or "",
            now=now_of(request),
            presence=drafts.presence_of(runtime, who, address),
        )
    except ActNotFound:
        raise
    except SceauError as error:
        drafts.record_refused_signature(
            runtime,
            who,
            error,
            address=address,
            objects={"acte": ref},
            request_id=request_id_var.get(),
            now=now_of(request),
            details=shown_sha256(sha256)
            if isinstance(error, DocumentMismatch)
            else None,
        )
        return _act(request, who, ref, sign_error=error)
    assert state.signature is not None  # signed, so it has its signature
    return redirect(request, f"{PREFIX}/signatures/{state.signature.ref}?nouvelle=1")


@router.post("/{ref}/refus", response_class=HTMLResponse)
def act_refuse(
    ref: str,
    request: Request,
    who: PersonPost,
    motif_refus: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    try:
        with runtime.db.transaction() as session:
            refuse_act(
                session,
                person_id=who.person_id,
                ref=ref,
                reason=motif_refus,
                now=now_of(request),
                address=peer_address(request),
            )
    except ActNotFound:
        raise
    except SceauError as error:
        return _act(
            request, who, ref, refuse_error=error, refusal_draft=motif_refus[:500]
        )
    return redirect(request, f"{PREFIX}/actes/{ref}")


@router.get("/{ref}/pages/{number}.png")
def act_page_image(ref: str, number: int, request: Request, who: Person) -> Response:
    png = acts.act_page_png(runtime_of(request), who, ref, number, now=now_of(request))
    return secure_headers(Response(png, media_type="image/png"))


@router.get("/{ref}/document.pdf")
def act_download(ref: str, request: Request, who: Person) -> Response:
    pdf = acts.act_pdf(runtime_of(request), who, ref, now=now_of(request))
    return pdf_response(pdf, f"{ref}.pdf")


def _act(
    request: Request,
    who: SignedIn,
    ref: str,
    *,
    sign_error: SceauError | None = None,
    refuse_error: SceauError | None = None,
    refusal_draft: str = "",
    consulted: bool = False,
) -> Response:
    reading = acts.read_act(runtime_of(request), who, ref, now=now_of(request))
    if consulted:
        acts.record_consultation(
            runtime_of(request),
            who,
            reading,
            address=peer_address(request),
            now=now_of(request),
        )
    error = sign_error or refuse_error
    return render(
        request,
        "acte.html",
        {
            "reading": reading,
            "act": reading.state.act,
            "state": reading.state,
            "level_label": LEVEL_LABELS.get(
                reading.state.act.level, reading.state.act.level
            ),
            "sign_error": sign_error,
            "refuse_error": refuse_error,
            "refusal_draft": refusal_draft,
        },
        status=error.status if error else 200,
        who=who,
        headers=error.headers if error else None,
    )
