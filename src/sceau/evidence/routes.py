"""The evidence file, for the client that owns it (the B2B API) and for the
person who signed (the web signer's pages). The public page's capability
links are served by ``sceau.verification.page_routes``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sceau.audit.actors import Actor
from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.evidence.service import (
    IssuedEvidence,
    client_act_story,
    client_signature_story,
    evidence_json,
    evidence_pdf,
    person_signature_story,
)
from sceau.evidence.story import Story
from sceau.http import ERROR_RESPONSES, frozen_now, runtime_of
from sceau.web.pages import PREFIX, now_of, require_signed_in, secure_headers
from sceau.web.sessions import SignedIn

PDF = "application/pdf"
# The signed evidence PDF's own record, for the client to find it again.
EVIDENCE_HEADER = "X-Dossier-De-Preuve"
EVIDENCE_SIGNATURE_HEADER = "X-Ref-Signature-Dossier"

router = APIRouter(tags=["Dossier de preuve"])

Client = Annotated[AuthenticatedClient, Depends(authenticated_client)]
Person = Annotated[SignedIn, Depends(require_signed_in)]

_PDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {PDF: {}},
        "description": "Le dossier de preuve en PDF, signé par Pixel Sceau.",
    },
    401: ERROR_RESPONSES[401],
    404: {"description": "Référence inconnue (ou d'un autre client)."},
    409: {
        "description": "Le même dossier est en cours de signature par une autre "
        "requête ; réessayer après Retry-After secondes."
    },
    503: {"description": "Horodatage momentanément indisponible ; réessayer."},
}
_JSON_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "Le dossier de preuve en JSON (objet décrit dans "
        "docs/integration.md, « Dossier de preuve »), calculé à chaque demande.",
    },
    401: ERROR_RESPONSES[401],
    404: {"description": "Référence inconnue (ou d'un autre client)."},
}


def peer_address(request: Request) -> str | None:
    """The address the middleware established, for the audit entry; None
    rather than ``client_address``'s "inconnue", which is no address."""
    peer = request.scope.get("state", {}).get("peer")
    address = getattr(peer, "address", None)
    return str(address) if address else None


def pdf_response(issued: IssuedEvidence, subject: str) -> Response:
    return Response(
        issued.pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": "attachment; "
            f'filename="dossier-de-preuve-{subject}.pdf"',
            EVIDENCE_HEADER: issued.id,
            EVIDENCE_SIGNATURE_HEADER: issued.signature_ref,
        },
    )


def json_response(story: Story, now: datetime | None) -> Response:
    body = json.dumps(evidence_json(story, now=now), ensure_ascii=False, indent=2)
    return Response(body, media_type="application/json")


async def _client_pdf(
    request: Request, client: AuthenticatedClient, tell: Callable[[], Story]
) -> Response:
    runtime = runtime_of(request)
    actor = Actor.for_client(client, address=peer_address(request))
    now = frozen_now(request)

    def work() -> tuple[Story, IssuedEvidence]:
        story = tell()
        return story, evidence_pdf(runtime, story, actor=actor, now=now)

    story, issued = await run_in_threadpool(work)
    return pdf_response(issued, story.subject)


# -- the client's signatures and acts --------------------------------------------


@router.get(
    "/api/v1/sceau/b2b/signatures/{ref}/dossier-de-preuve.json",
    responses=_JSON_RESPONSES,
    summary="Dossier de preuve d'une signature (JSON)",
)
async def signature_evidence_json(
    ref: str, request: Request, client: Client
) -> Response:
    """L'histoire de la signature, dans l'ordre, calculée à la demande."""
    runtime = runtime_of(request)
    story = await run_in_threadpool(
        client_signature_story, runtime, client.client_id, ref
    )
    return json_response(story, frozen_now(request))


@router.get(
    "/api/v1/sceau/b2b/signatures/{ref}/dossier-de-preuve",
    response_class=Response,
    responses=_PDF_RESPONSES,
    summary="Dossier de preuve d'une signature (PDF signé)",
)
async def signature_evidence_pdf(
    ref: str, request: Request, client: Client
) -> Response:
    """Le même contenu en PDF signé par Pixel Sceau ; redemandé sans que
    l'histoire ait changé, c'est le même PDF."""
    runtime = runtime_of(request)
    return await _client_pdf(
        request,
        client,
        lambda: client_signature_story(runtime, client.client_id, ref),
    )


@router.get(
    "/api/v1/sceau/b2b/actes/{ref}/dossier-de-preuve.json",
    responses=_JSON_RESPONSES,
    summary="Dossier de preuve d'un acte (JSON)",
)
async def act_evidence_json(ref: str, request: Request, client: Client) -> Response:
    """L'histoire de l'acte (préparé, consulté, signé ou refusé, la signature
    qui en résulte), dans l'ordre, calculée à la demande."""
    runtime = runtime_of(request)
    now = frozen_now(request)
    story = await run_in_threadpool(
        lambda: client_act_story(runtime, client.client_id, ref, now=now)
    )
    return json_response(story, now)


@router.get(
    "/api/v1/sceau/b2b/actes/{ref}/dossier-de-preuve",
    response_class=Response,
    responses=_PDF_RESPONSES,
    summary="Dossier de preuve d'un acte (PDF signé)",
)
async def act_evidence_pdf(ref: str, request: Request, client: Client) -> Response:
    """Le même contenu en PDF signé par Pixel Sceau ; au plus un nouveau PDF
    par minute pour un même acte."""
    runtime = runtime_of(request)
    now = frozen_now(request)
    return await _client_pdf(
        request,
        client,
        lambda: client_act_story(runtime, client.client_id, ref, now=now),
    )


# -- the person's own signatures -------------------------------------------------


@router.get(
    f"{PREFIX}/signatures/{{ref}}/dossier-de-preuve.json", include_in_schema=False
)
def person_evidence_json(ref: str, request: Request, who: Person) -> Response:
    """A signature the person made, or one made in their name under their
    delegation."""
    story = person_signature_story(runtime_of(request), who.code_09, ref)
    return secure_headers(json_response(story, now_of(request)))


@router.get(f"{PREFIX}/signatures/{{ref}}/dossier-de-preuve", include_in_schema=False)
def person_evidence_pdf(ref: str, request: Request, who: Person) -> Response:
    runtime = runtime_of(request)
    story = person_signature_story(runtime, who.code_09, ref)
    actor = Actor.person(who.code_09, who.person_id, address=peer_address(request))
    issued = evidence_pdf(runtime, story, actor=actor, now=now_of(request))
    return secure_headers(pdf_response(issued, story.subject))
