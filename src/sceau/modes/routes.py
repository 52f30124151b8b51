"""``POST /api/v1/sceau/b2b/signer``: parse, call the mode, shape the answer."""

from __future__ import annotations

import base64
import json
import time
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sceau.audit.actors import Actor
from sceau.auth.service import AuthenticatedClient
from sceau.authority.service import WARNING_HEADER
from sceau.delegations.errors import DelegatedFieldsMissing
from sceau.errors import SceauError
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
from sceau.identities.codes import InvalidCode, parse_code
from sceau.lifecycle.http import open_client
from sceau.modes.delegated import DelegatedSignatureRequest, sign_under_delegation
from sceau.modes.refusals import record_refused_for_client
from sceau.modes.schemas import (
    SHEET_REQUEST_EXAMPLE,
    ApparenceRequest,
    SignRequest,
    SignResponse,
)
from sceau.modes.system import (
    SignatureOutcome,
    SystemSignatureRequest,
    sign_in_system_mode,
)
from sceau.ops.logs import request_id_var
from sceau.ops.metrics import SIGNATURES, SIGNING_LATENCY
from sceau.runtime import Runtime
from sceau.signing.engine import Level
from sceau.signing.errors import AppearanceInvalid
from sceau.signing.seal import SealBox, SealPlacement
from sceau.signing.service import get_signature, get_signed_pdf

router = APIRouter(prefix="/api/v1/sceau/b2b", tags=["Signature B2B"])

_REQUEST_SCHEMA = SignRequest.model_json_schema()


@router.post(
    "/signer",
    response_model=SignResponse,
    responses=ERROR_RESPONSES,
    summary="Apposer une signature PAdES",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _REQUEST_SCHEMA,
                    "examples": {
                        "fiche": {
                            "summary": "L'exemple de la fiche d'intégration (§ 7)",
                            "value": SHEET_REQUEST_EXAMPLE,
                        }
                    },
                }
            },
        }
    },
)
async def sign(
    request: Request,
    client: Annotated[AuthenticatedClient, Depends(open_client)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Clé d'idempotence : la même clé et le même corps dans les "
            "24 heures renvoient la première réponse sans signer à nouveau.",
        ),
    ] = None,
) -> Response:
    """Signe le PDF au nom de l'identité système (mode Système, code 09S-…) ou
    d'une personne sous sa délégation (mode Déléguée, code 09-…)."""
    started = request.scope["state"].get("started", time.perf_counter())
    runtime = runtime_of(request)
    address = peer_address(request)
    request_id = request_id_var.get() or ""
    now = frozen_now(request)
    # What the request named, as far as it was read, for a refusal's entry.
    named: dict[str, str] = {}
    try:
        require_json(request)
        key = (
            None
            if idempotency_key is None
            else idempotency.validate_key(idempotency_key)
        )
        # One hand-off to a worker thread for everything after the body is
        # read: parsing, idempotency, signing and the answer are CPU or
        # database work. The body travels in a list the worker empties, so
        # that it can be freed once the PDF is decoded rather than when the
        # request ends.
        body = [await read_body(request)]
        return await run_in_threadpool(
            _sign_request,
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
        )
        raise


def _sign_request(
    runtime: Runtime,
    client: AuthenticatedClient,
    body_holder: list[bytes],
    key: str | None,
    path: str,
    request_id: str,
    started: float,
    now: datetime | None,
    address: str | None,
    named: dict[str, str],
) -> Response:
    body = body_holder.pop()
    request_fingerprint = idempotency.fingerprint("POST", path, body)
    signature_request = _prepare(body, runtime.settings.default_level)
    del body
    named["identite"] = signature_request.code_09

    claim = idempotency.claim_for(
        runtime.db,
        runtime.settings,
        client_id=client.client_id,
        key=key,
        request_fingerprint=request_fingerprint,
    )
    if isinstance(claim, idempotency.Replay):
        replayed = replay_signature(runtime, client.client_id, claim.ref_signature)
        return signed_answer(replayed, replayed_header=True)
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
    return signed_answer(signed, replayed_header=False)


def sign_request(
    runtime: Runtime,
    client: AuthenticatedClient,
    signature_request: SystemSignatureRequest | DelegatedSignatureRequest,
    *,
    claim: idempotency.Claim | None,
    request_id: str,
    started: float,
    now: datetime | None,
    address: str | None = None,
) -> SignatureOutcome:
    """Sign in the request's mode; a failure releases the idempotency key and
    is counted under its code. ``address`` is the caller's, for the trail."""
    level = signature_request.level
    actor = Actor.for_client(client, address=address)
    try:
        if isinstance(signature_request, DelegatedSignatureRequest):
            signed = sign_under_delegation(
                runtime,
                signature_request,
                client_id=client.client_id,
                api_key_id=client.api_key_id,
                request_id=request_id,
                started=started,
                claim=claim,
                now=now,
                client_state=client.state,
                actor=actor,
            )
        else:
            signed = sign_in_system_mode(
                runtime,
                signature_request,
                client_id=client.client_id,
                api_key_id=client.api_key_id,
                request_id=request_id,
                started=started,
                claim=claim,
                now=now,
                client_state=client.state,
                actor=actor,
            )
    except BaseException as exc:
        if claim is not None:
            idempotency.release(runtime.db, claim)
        outcome_label = exc.code if isinstance(exc, SceauError) else "erreur_interne"
        SIGNATURES.labels(level, outcome_label).inc()
        raise

    SIGNATURES.labels(level, "signe").inc()
    SIGNING_LATENCY.labels(level).observe(time.perf_counter() - started)
    return signed


def _prepare(
    body: bytes, default_level: Level
) -> SystemSignatureRequest | DelegatedSignatureRequest:
    parsed = _parse(body)
    pdf = decode_pdf_b64(parsed.pdf_b64)
    level = parsed.niveau or default_level
    callback_url = str(parsed.callback_url) if parsed.callback_url else None
    seal = placement(parsed.apparence)
    if not _is_personal(parsed.code_09):
        return SystemSignatureRequest(
            code_09=parsed.code_09,
            signer_name=parsed.nom_signataire,
            reason=parsed.motif,
            pdf=pdf,
            level=level,
            callback_url=callback_url,
            seal=seal,
            act_type=parsed.type_acte,
            amount=parsed.montant,
        )
    if parsed.type_acte is None or parsed.montant is None:
        raise DelegatedFieldsMissing()
    return DelegatedSignatureRequest(
        code_09=parsed.code_09,
        signer_name=parsed.nom_signataire,
        reason=parsed.motif,
        pdf=pdf,
        level=level,
        callback_url=callback_url,
        seal=seal,
        act_type=parsed.type_acte,
        amount=parsed.montant,
    )


def _is_personal(code_09: str) -> bool:
    """A well-formed person's code (09-…); anything else takes the system
    path, which reports a malformed or unknown code as it always has."""
    try:
        return not parse_code(code_09).is_system
    except InvalidCode:
        return False


def placement(apparence: ApparenceRequest | None) -> SealPlacement | None:
    if apparence is None:
        return None
    cadre = apparence.cadre
    return SealPlacement(
        page=apparence.page,
        corner=apparence.position,
        box=None
        if cadre is None
        else SealBox(cadre.x, cadre.y, cadre.largeur, cadre.hauteur),
    )


def _parse(body: bytes) -> SignRequest:
    # A malformed apparence gets its own code, so that a client can tell the
    # seal's placement from the rest of the request.
    parsed = parse_body(
        SignRequest, body, field_codes={"apparence": AppearanceInvalid.code}
    )
    # The motif is stored as sent: PostgreSQL text cannot hold NUL (the insert
    # would fail after signing, as a 500) while SQLite would keep it, so it is
    # refused up front on every backend.
    if "\x00" in parsed.motif:
        raise InvalidFields("Champs invalides — motif : caractère NUL interdit.")
    return parsed


def replay_signature(runtime: Runtime, client_id: str, ref: str) -> SignatureOutcome:
    with runtime.db.sessions() as session:
        record = get_signature(session, client_id, ref)
        return SignatureOutcome(
            record=record, signed_pdf=get_signed_pdf(session, record)
        )


# Base64 of 3-byte-aligned slices concatenates into the base64 of the whole.
_ANSWER_SLICE = 3 * 64 * 1024


def warning_header(sentence: str) -> str:
    """The sentence as a header value: in ASCII, its accents dropped, since
    clients read header bytes differently beyond it (httpx refuses Latin-1)."""
    folded = unicodedata.normalize("NFKD", sentence)
    return folded.encode("ascii", "ignore").decode("ascii")


def signed_answer(
    outcome: SignatureOutcome,
    *,
    replayed_header: bool,
    extra: dict[str, object] | None = None,
) -> Response:
    """The sheet's answer, streamed: the signed PDF's base64 is written into the
    JSON slice by slice, so that neither the whole base64 text nor a copy of it
    in the socket's send buffer ever exists, for documents that may weigh tens
    of megabytes. Base64 needs no JSON escaping."""
    record = outcome.record
    pdf = outcome.signed_pdf
    # The sheet's six fields, and for a signature made in a person's name the
    # delegation that allowed it.
    added: dict[str, object] = {}
    if record.delegation_ref is not None:
        added = {"mode": record.mode, "ref_delegation": record.delegation_ref}
    added |= extra or {}

    def field(name: str, value: object) -> bytes:
        return json.dumps(name).encode() + b":" + json.dumps(value).encode()

    head = (
        b"".join(
            [b"{", field("statut", "signe"), b",", field("ref_signature", record.ref)]
        )
        + b',"pdf_signe_b64":"'
    )
    tail = b"".join(
        [
            b'",',
            field("sha256_signe", record.sha256_signed),
            b",",
            field("ref_horodatage", record.ref_horodatage),
            b",",
            field("duree_traitement_ms", record.duration_ms),
            *(b"," + field(name, value) for name, value in added.items()),
            b"}",
        ]
    )

    headers = {"Idempotent-Replayed": "true"} if replayed_header else {}
    if outcome.warning is not None:
        headers[WARNING_HEADER] = warning_header(outcome.warning)
    if len(pdf) <= _ANSWER_SLICE:
        # Small enough to answer in one buffer, without streaming's hand-offs.
        body = head + base64.b64encode(pdf) + tail
        return Response(body, media_type="application/json", headers=headers)

    def chunks() -> Iterator[bytes]:
        yield head
        view = memoryview(pdf)
        for start in range(0, len(pdf), _ANSWER_SLICE):
            yield base64.b64encode(view[start : start + _ANSWER_SLICE])
        yield tail

    length = len(head) + 4 * ((len(pdf) + 2) // 3) + len(tail)
    headers["Content-Length"] = str(length)
    return StreamingResponse(chunks(), media_type="application/json", headers=headers)
