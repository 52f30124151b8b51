"""The web signer's pages under ``/signer``: enrolment, login, logout, the
home page, upload, review and signature, and the person's own signatures
(the act pages are in ``sceau.web.act_routes``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sceau.errors import SceauError
from sceau.http import peer_address, runtime_of
from sceau.ops.logs import request_id_var
from sceau.people.errors import EnrolmentLinkInvalid
from sceau.people.login import record_login, record_logout, verify_login
from sceau.people.service import EnrolmentStart, finish_enrolment, start_enrolment
from sceau.signing.errors import PdfTooLarge
from sceau.web import acts, delegations, drafts
from sceau.web.errors import DraftNotFound, InvalidDraft, PasswordsDiffer
from sceau.web.pages import (
    LOGIN_PAGE,
    PREFIX,
    SESSION_COOKIE,
    check_csrf,
    clear_cookie,
    client_address,
    now_of,
    redirect,
    render,
    require_signed_in,
    safe_next,
    secure_headers,
    set_cookie,
    signed_in,
    totp_setup_values,
)
from sceau.web.sessions import (
    SignedIn,
    end_session,
    open_session,
    reference_of_token,
    session_reference,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

LEVEL_LABELS = {
    "B-B": "B-B — signature de base",
    "B-T": "B-T — signature horodatée",
    "B-LT": "B-LT — validation à long terme",
    "B-LTA": "B-LTA — archivage à long terme",
}
SEAL_LABELS = {
    drafts.NO_SEAL: "Aucun (signature invisible)",
    "bas_droite": "En bas à droite de la dernière page",
    "bas_gauche": "En bas à gauche de la dernière page",
    "haut_droite": "En haut à droite de la dernière page",
    "haut_gauche": "En haut à gauche de la dernière page",
}


@dataclass(frozen=True)
class WaitingAct:
    """An act waiting for the person's signature, as the home page lists it."""

    title: str
    reason: str
    received_at: datetime
    url: str
    requested_by: str
    expires_at: datetime


# -- dependencies ----------------------------------------------------------------


async def visitor_form(request: Request) -> None:
    """A POST before login: the form must carry the visitor cookie's token."""
    await check_csrf(request, None)


async def session_form(request: Request) -> SignedIn:
    """A POST in a session: the person, and the session's CSRF token."""
    who = await run_in_threadpool(require_signed_in, request)
    await check_csrf(request, who)
    return who


Person = Annotated[SignedIn, Depends(require_signed_in)]
PersonPost = Annotated[SignedIn, Depends(session_form)]
VisitorPost = Annotated[None, Depends(visitor_form)]


# -- enrolment -------------------------------------------------------------------


@router.get("/inscription/{token}", response_class=HTMLResponse)
def enrolment_page(token: str, request: Request) -> Response:
    return _enrolment_form(request, token)


@router.post("/inscription/{token}", response_class=HTMLResponse)
def enrolment_submit(
    token: str,
    request: Request,
    _: VisitorPost,
    mot_de_passe: Annotated[str, Form()] = "",
    mot_de_passe_confirmation: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    try:
        if mot_de_passe != mot_de_passe_confirmation:
            raise PasswordsDiffer()
        with runtime.db.transaction() as session:
            codes = finish_enrolment(
                session,
                runtime.sealer,
                runtime.settings,
                token,
                password=mot_de_passe,
                first_code=code,
                address=client_address(request),
                now=now_of(request),
            )
    except EnrolmentLinkInvalid:
        raise
    except SceauError as error:
        return _enrolment_form(request, token, error=error)
    return render(request, "inscription_terminee.html", {"codes": codes})


def _enrolment_form(
    request: Request, token: str, *, error: SceauError | None = None
) -> Response:
    runtime = runtime_of(request)
    with runtime.db.transaction() as session:
        started: EnrolmentStart = start_enrolment(
            session, runtime.sealer, token, now=now_of(request)
        )
    return render(
        request,
        "inscription.html",
        {
            "person": started.person,
            "secret": started.secret,
            **totp_setup_values(started.secret, started.provisioning_uri),
            "min_length": runtime.settings.person_password_min_length,
            "error": error,
        },
        status=error.status if error else 200,
    )


# -- login and logout ------------------------------------------------------------


@router.get("/connexion", response_class=HTMLResponse)
def login_page(request: Request, suivant: str = "") -> Response:
    next_page = safe_next(suivant)
    if signed_in(request) is not None:
        return redirect(request, next_page or PREFIX)
    return render(
        request,
        "connexion.html",
        {"error": None, "identifiant": "", "next_page": next_page},
    )


@router.post("/connexion", response_class=HTMLResponse)
def login_submit(
    request: Request,
    _: VisitorPost,
    identifiant: Annotated[str, Form()] = "",
    mot_de_passe: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    suivant: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    now = now_of(request)
    next_page = safe_next(suivant)
    try:
        logged_in = verify_login(
            runtime.db,
            runtime.sealer,
            runtime.settings,
            login=identifiant,
            password=mot_de_passe,
            second_factor=code,
            address=client_address(request),
            now=now,
        )
    except SceauError as error:
        return render(
            request,
            "connexion.html",
            {
                "error": error,
                "identifiant": identifiant[:320],
                "next_page": next_page,
            },
            status=error.status,
            headers=error.headers,
        )

    with runtime.db.transaction() as session:
        token = open_session(session, runtime.settings, logged_in.person_id, now=now)
        record_login(
            session,
            logged_in,
            address=client_address(request),
            session_ref=reference_of_token(session, token),
            now=now,
        )
    # The notice about recovery codes is on the home page, which lists the
    # waiting acts first: it wins over the page the person was heading to.
    if logged_in.used_recovery_code:
        target = f"{PREFIX}?secours=1"
    else:
        target = next_page or PREFIX
    response = redirect(request, target)
    set_cookie(request, response, SESSION_COOKIE, token)
    return response


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    who = await run_in_threadpool(signed_in, request)
    if who is not None:
        await check_csrf(request, who)
        runtime = runtime_of(request)

        def forget() -> None:
            with runtime.db.transaction() as session:
                end_session(session, who.session_id)
                record_logout(
                    session,
                    code_09=who.code_09,
                    person_id=who.person_id,
                    address=client_address(request),
                    session_ref=session_reference(who.session_id),
                    now=now_of(request),
                )

        await run_in_threadpool(forget)
    response = redirect(request, LOGIN_PAGE)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


# -- home ------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: Person, secours: int = 0) -> Response:
    with runtime_of(request).db.sessions() as session:
        waiting = acts.waiting_acts(session, who, now=now_of(request))
    return home_page(
        request,
        who,
        waiting_acts=[
            WaitingAct(
                title=f"Acte {state.act.ref}",
                reason=state.act.reason,
                received_at=state.act.created_at,
                url=f"{PREFIX}/actes/{state.act.ref}",
                requested_by=state.client_name,
                expires_at=state.act.expires_at,
            )
            for state in waiting
        ],
        recovery_used=bool(secours),
    )


def home_page(
    request: Request,
    who: SignedIn,
    *,
    waiting_acts: Sequence[WaitingAct] = (),
    recovery_used: bool = False,
) -> Response:
    """The home page; the section of acts waiting for a signature shows only
    when ``waiting_acts`` has some."""
    runtime = runtime_of(request)
    with runtime.db.sessions() as session:
        history = drafts.signatures_of(session, who)
        decided = acts.decided_acts(session, who, now=now_of(request))
        waiting_delegations = delegations.waiting_delegations(
            session, who, now=now_of(request)
        )
    return render(
        request,
        "accueil.html",
        {
            "waiting_acts": waiting_acts,
            "waiting_delegations": waiting_delegations,
            "decided_acts": decided,
            "status_labels": acts.STATUS_LABELS,
            "history": history,
            "recovery_used": recovery_used,
        },
        who=who,
    )


# -- upload, review, signature ---------------------------------------------------


@router.get("/nouveau", response_class=HTMLResponse)
def new_document_page(request: Request, who: Person) -> Response:
    return _new_form(request, who)


@router.post("/nouveau", response_class=HTMLResponse)
def new_document_submit(
    request: Request,
    who: PersonPost,
    fichier: Annotated[UploadFile | None, File()] = None,
    motif: Annotated[str, Form()] = "",
    niveau: Annotated[str, Form()] = "",
    sceau: Annotated[str, Form()] = drafts.DEFAULT_SEAL,
) -> Response:
    runtime = runtime_of(request)
    limit = runtime.settings.max_pdf_bytes
    form = {"motif": motif, "niveau": niveau, "sceau": sceau}
    try:
        if fichier is None or not fichier.filename:
            raise InvalidDraft(
                "Choisissez le fichier PDF à signer.", code="fichier_requis"
            )
        if fichier.size is not None and fichier.size > limit:
            raise _too_large(limit)
        pdf = fichier.file.read(limit + 1)
        if len(pdf) > limit:
            raise _too_large(limit)
        draft = drafts.create_draft(
            runtime,
            who,
            drafts.NewDraft(fichier.filename, motif, niveau, pdf, sceau),
            now=now_of(request),
        )
    except SceauError as error:
        return _new_form(request, who, error=error, form=form)
    return redirect(request, f"{PREFIX}/documents/{draft.id}")


def _too_large(limit: int) -> PdfTooLarge:
    return PdfTooLarge(
        f"Le fichier dépasse la taille maximale de {_megabytes(limit)} : "
        "réduisez-le (par exemple en l'imprimant en PDF) et recommencez."
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo".replace(".", ",")


def _new_form(
    request: Request,
    who: SignedIn,
    *,
    error: SceauError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    settings = runtime_of(request).settings
    chosen = (form or {}).get("niveau") or settings.default_level
    return render(
        request,
        "nouveau.html",
        {
            "error": error,
            "motif": (form or {}).get("motif", ""),
            "levels": LEVEL_LABELS,
            "chosen_level": chosen,
            "seals": SEAL_LABELS,
            "chosen_seal": (form or {}).get("sceau") or drafts.DEFAULT_SEAL,
            "max_size": _megabytes(settings.max_pdf_bytes),
        },
        status=error.status if error else 200,
        who=who,
    )


@router.get("/documents/{draft_id}", response_class=HTMLResponse)
def review_page(draft_id: str, request: Request, who: Person) -> Response:
    return _review(request, who, draft_id)


@router.post("/documents/{draft_id}/signer", response_class=HTMLResponse)
def sign_submit(
    draft_id: str,
    request: Request,
    who: PersonPost,
    code: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    try:
        outcome = drafts.sign_draft(
            runtime,
            who,
            draft_id,
            totp_code=code,
            request_id=request_id_var.get() or "",
            started=request.scope["state"].get("started", time.perf_counter()),
            now=now_of(request),
            address=peer_address(request),
        )
    except DraftNotFound:
        raise
    except SceauError as error:
        drafts.record_refused_signature(
            runtime,
            who,
            error,
            address=peer_address(request),
            objects={"brouillon": draft_id},
            request_id=request_id_var.get(),
            now=now_of(request),
        )
        return _review(request, who, draft_id, error=error)
    return redirect(request, f"{PREFIX}/signatures/{outcome.record.ref}?nouvelle=1")


def _review(
    request: Request, who: SignedIn, draft_id: str, *, error: SceauError | None = None
) -> Response:
    runtime = runtime_of(request)
    with runtime.db.sessions() as session:
        draft = drafts.get_draft(session, who, draft_id, now=now_of(request))
    return render(
        request,
        "relecture.html",
        {
            "draft": draft,
            "level_label": LEVEL_LABELS.get(draft.level, draft.level),
            "seal_label": SEAL_LABELS[draft.seal or drafts.NO_SEAL],
            "pages": drafts.rendered_pages(runtime, draft),
            "error": error,
        },
        status=error.status if error else 200,
        who=who,
        headers=error.headers if error else None,
    )


@router.get("/documents/{draft_id}/pages/{number}.png")
def draft_page(draft_id: str, number: int, request: Request, who: Person) -> Response:
    png = drafts.draft_page_png(
        runtime_of(request), who, draft_id, number, now=now_of(request)
    )
    return secure_headers(Response(png, media_type="image/png"))


@router.get("/documents/{draft_id}/document.pdf")
def draft_download(draft_id: str, request: Request, who: Person) -> Response:
    with runtime_of(request).db.sessions() as session:
        draft = drafts.get_draft(session, who, draft_id, now=now_of(request))
        pdf = drafts.draft_pdf(session, draft)
    return pdf_response(pdf, "a-signer.pdf")


# -- the person's signatures -----------------------------------------------------


@router.get("/signatures/{ref}.pdf")
def signature_download(ref: str, request: Request, who: Person) -> Response:
    with runtime_of(request).db.sessions() as session:
        pdf = drafts.own_signed_pdf(session, who, ref)
    return pdf_response(pdf, f"{ref}.pdf")


@router.get("/signatures/{ref}", response_class=HTMLResponse)
def signature_page(
    ref: str, request: Request, who: Person, nouvelle: int = 0
) -> Response:
    with runtime_of(request).db.sessions() as session:
        record = drafts.own_signature(session, who, ref)
    return render(
        request,
        "signature.html",
        {
            "record": record,
            "level_label": LEVEL_LABELS.get(record.level, record.level),
            "just_signed": bool(nouvelle),
        },
        who=who,
    )


def pdf_response(pdf: bytes, filename: str) -> Response:
    return secure_headers(
        Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    )
