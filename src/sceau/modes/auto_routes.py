"""``POST /api/v1/sceau/b2b/actes/auto``: the client sends the act, its kind
and its amount; its authority matrix decides how it is signed, in one call.

A rule in mode ``systeme`` or ``deleguee`` signs at once (the answer of
``POST …/signer``, 200); a rule in mode ``humaine`` prepares an act for its
person (the answer of ``POST …/actes``, 201). Either way the answer says the
rule and the matrix version that decided.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sceau.acts.schemas import ActView
from sceau.acts.service import NewAct, create_act, get_act
from sceau.audit.actors import Actor
from sceau.auth.service import AuthenticatedClient
from sceau.authority.service import (
    WARNING_HEADER,
    MatrixVerdict,
    business_date,
    decide,
)
from sceau.db import utcnow
from sceau.errors import Conflict, SceauError
from sceau.http import (
    ERROR_RESPONSES,
    InvalidFields,
    decode_pdf_b64,
    frozen_now,
    parse_body,
    peer_address,
    read_body,
    require_json,
    runtime_of,
)
from sceau.idempotency import service as idempotency
from sceau.identities.models import Identity
from sceau.lifecycle.http import open_client
from sceau.modes.delegated import MODE_DELEGATED, DelegatedSignatureRequest
from sceau.modes.human import MODE_HUMAN
from sceau.modes.refusals import record_refused_for_client
from sceau.modes.routes import (
    placement,
    replay_signature,
    sign_request,
    signed_answer,
    warning_header,
)
from sceau.modes.schemas import ApparenceRequest
from sceau.modes.system import MODE_SYSTEM, SystemSignatureRequest
from sceau.ops.logs import request_id_var
from sceau.people.models import Person
from sceau.runtime import Runtime
from sceau.signing.errors import AppearanceInvalid

router = APIRouter(prefix="/api/v1/sceau/b2b/actes", tags=["Matrice d'autorité"])

AUTO_REQUEST_EXAMPLE: dict[str, Any] = {
    "type_acte": "police_assurance",
    "montant": 1250000,
    "motif": "Police habitation n° 2026-118",
    "pdf_b64": "<PDF source encodé en base64>",
    "callback_url": "https://atlanta.example.ci/sceau/callback",
}


class AutoRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [AUTO_REQUEST_EXAMPLE]}
    )

    type_acte: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$"
    )
    montant: int | None = Field(
        default=None,
        ge=0,
        le=10**15,
        description="Montant en francs CFA (XOF, entier) ; requis quand les règles "
        "de ce type d'acte dépendent du montant.",
    )
    motif: str = Field(min_length=1, max_length=500)
    pdf_b64: str
    callback_url: HttpUrl | None = None
    niveau: Literal["B-B", "B-T", "B-LT", "B-LTA"] | None = None
    apparence: ApparenceRequest | None = Field(
        default=None,
        description="Sceau visible, pour une signature faite aussitôt (systeme, "
        "deleguee) ; sans effet sur un acte envoyé à une personne.",
    )
    expire_le: AwareDatetime | None = Field(
        default=None,
        description="Date limite de signature, pour un acte envoyé à une personne "
        "(humaine).",
    )


class RuleWithoutSigner(Conflict):
    code = "regle_sans_signataire"


@router.post(
    "/auto",
    responses=ERROR_RESPONSES,
    summary="Signer selon la matrice d'autorité (ou envoyer à la personne)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": AutoRequest.model_json_schema(),
                    "examples": {"auto": {"value": AUTO_REQUEST_EXAMPLE}},
                }
            },
        }
    },
)
async def sign_by_matrix(
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(open_client)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """La matrice d'autorité en vigueur choisit le mode et le signataire : la
    signature est faite aussitôt (systeme, deleguee), ou l'acte est adressé à
    sa personne (humaine)."""
    started = request.scope["state"].get("started", time.perf_counter())
    runtime = runtime_of(request)
    address = peer_address(request)
    request_id = request_id_var.get() or ""
    now = frozen_now(request)
    # Who the matrix named and by which rule, once it has, for a refusal's
    # entry.
    named: dict[str, str] = {}
    decided: dict[str, object] = {}
    try:
        require_json(request)
        key = (
            None
            if idempotency_key is None
            else idempotency.validate_key(idempotency_key)
        )
        body = await read_body(request)
        return await run_in_threadpool(
            _auto,
            runtime,
            client,
            body,
            key,
            request.url.path,
            request_id,
            started,
            now,
            address,
            named,
            decided,
        )
    except SceauError as error:
        await run_in_threadpool(
            record_refused_for_client,
            runtime.db,
            error,
            client,
            address=address,
            objects=named,
            request_id=request_id,
            now=now,
            details=decided,
        )
        raise


def _auto(
    runtime: Runtime,
    client: AuthenticatedClient,
    body: bytes,
    key: str | None,
    path: str,
    request_id: str,
    started: float,
    now: datetime | None,
    address: str | None,
    named: dict[str, str],
    decided: dict[str, object],
) -> Response:
    fingerprint = idempotency.fingerprint("POST", path, body)
    parsed = parse_body(
        AutoRequest, body, field_codes={"apparence": AppearanceInvalid.code}
    )
    if "\x00" in parsed.motif:
        raise InvalidFields("Champs invalides — motif : caractère NUL interdit.")
    pdf = decode_pdf_b64(parsed.pdf_b64)
    del body

    claim = idempotency.claim_for(
        runtime.db,
        runtime.settings,
        client_id=client.client_id,
        key=key,
        request_fingerprint=fingerprint,
    )
    if isinstance(claim, idempotency.Replay):
        # The first answer, whatever the matrix says now.
        return _replay(runtime, client, claim.ref_signature)
    try:
        return _decide_and_sign(
            runtime,
            client,
            parsed,
            pdf,
            claim,
            request_id,
            started,
            now,
            address=address,
            named=named,
            decided=decided,
        )
    except BaseException:
        # Released again by a signature that failed: releasing is idempotent.
        if claim is not None:
            idempotency.release(runtime.db, claim)
        raise


def _decide_and_sign(
    runtime: Runtime,
    client: AuthenticatedClient,
    parsed: AutoRequest,
    pdf: bytes,
    claim: idempotency.Claim | None,
    request_id: str,
    started: float,
    now: datetime | None,
    *,
    address: str | None,
    named: dict[str, str],
    decided: dict[str, object],
) -> Response:
    with runtime.db.sessions() as session:
        verdict = decide(
            session,
            client.client_id,
            act_type=parsed.type_acte,
            amount=parsed.montant,
            today=business_date(now or utcnow()),
        )
        decided |= {"regle": verdict.rule.numero, "version_matrice": verdict.version}
        signer = _signer_name(session, client.client_id, verdict)
    rule = verdict.rule
    assert rule.code_09 is not None
    named["identite"] = rule.code_09
    callback_url = str(parsed.callback_url) if parsed.callback_url else None
    level = parsed.niveau or runtime.settings.default_level

    if rule.mode == MODE_HUMAN:
        state = create_act(
            runtime,
            NewAct(
                code_09=rule.code_09,
                reason=parsed.motif,
                pdf=pdf,
                level=parsed.niveau,
                callback_url=callback_url,
                expires_at=parsed.expire_le,
                act_type=parsed.type_acte,
                amount=parsed.montant,
            ),
            client_id=client.client_id,
            request_id=request_id,
            api_key_id=client.api_key_id,
            claim=claim,
            now=now,
            actor=Actor.for_client(client, address=address),
        )
        content = ActView.of(state).as_json()
        return _act_answer(content, decided, verdict, replayed=False)

    signature_request: SystemSignatureRequest | DelegatedSignatureRequest
    if rule.mode == MODE_SYSTEM:
        signature_request = SystemSignatureRequest(
            code_09=rule.code_09,
            signer_name=signer,
            reason=parsed.motif,
            pdf=pdf,
            level=level,
            callback_url=callback_url,
            seal=placement(parsed.apparence),
            act_type=parsed.type_acte,
            amount=parsed.montant,
            audit_details={"regle": rule.numero},
        )
    else:
        assert rule.mode == MODE_DELEGATED
        if parsed.montant is None:
            raise InvalidFields(
                "Champs invalides — montant : requis pour signer sous une délégation."
            )
        signature_request = DelegatedSignatureRequest(
            code_09=rule.code_09,
            signer_name=signer,
            reason=parsed.motif,
            pdf=pdf,
            level=level,
            callback_url=callback_url,
            seal=placement(parsed.apparence),
            act_type=parsed.type_acte,
            amount=parsed.montant,
            audit_details={"regle": rule.numero},
        )
    signed = sign_request(
        runtime,
        client,
        signature_request,
        claim=claim,
        request_id=request_id,
        started=started,
        now=now,
        address=address,
    )
    return signed_answer(
        signed, replayed_header=False, extra={"mode": rule.mode} | decided
    )


def _signer_name(session: Session, client_id: str, verdict: MatrixVerdict) -> str:
    """The registered name of the rule's signer: the system identity's label,
    or the person's name."""
    rule = verdict.rule
    if rule.code_09 is None:
        raise RuleWithoutSigner(
            f"La règle {rule.numero} de la matrice d'autorité (version "
            f"{verdict.version}) ne désigne pas de signataire (code_09) : la "
            "matrice ne peut pas choisir à votre place. Signez par POST "
            "/api/v1/sceau/b2b/signer (ou /actes) en nommant le signataire, ou "
            "complétez la règle."
        )
    if rule.mode == MODE_SYSTEM:
        identity = session.get_one(Identity, rule.code_09)
        label: str = identity.label
        return label
    name: str = session.scalars(
        select(Person.name).where(
            Person.code_09 == rule.code_09, Person.client_id == client_id
        )
    ).one()
    return name


def _replay(runtime: Runtime, client: AuthenticatedClient, ref: str) -> Response:
    """The first answer again: a signature, or the act as it is now, with
    the matrix version they recorded."""
    if ref.startswith("ACT-"):
        with runtime.db.sessions() as session:
            state = get_act(session, client.client_id, ref)
        decided: dict[str, object] = {"version_matrice": state.act.matrix_version}
        return _act_answer(ActView.of(state).as_json(), decided, None, replayed=True)
    replayed = replay_signature(runtime, client.client_id, ref)
    return signed_answer(
        replayed,
        replayed_header=True,
        extra={
            "mode": replayed.record.mode,
            "version_matrice": replayed.record.matrix_version,
        },
    )


def _act_answer(
    content: dict[str, Any],
    decided: dict[str, object],
    verdict: MatrixVerdict | None,
    *,
    replayed: bool,
) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if verdict is not None and verdict.warning is not None:
        headers[WARNING_HEADER] = warning_header(verdict.warning)
    return JSONResponse(
        content | {"mode": MODE_HUMAN} | decided, status_code=201, headers=headers
    )
