"""``POST /tsa``: the embedded time-stamping authority, for anyone (RFC 3161
over HTTP, RFC 3161 §3.4)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sceau.errors import UnsupportedMediaType
from sceau.http import read_body, runtime_of

router = APIRouter(tags=["Horodatage"])

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


@router.post(
    "/tsa",
    response_class=Response,
    summary="Horodatage RFC 3161",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {QUERY_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        200: {"content": {REPLY_TYPE: {}}, "description": "TimeStampResp"},
        415: {"description": f"Corps sans l'en-tête Content-Type: {QUERY_TYPE}."},
    },
)
async def timestamp(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type.lower() != QUERY_TYPE:
        raise UnsupportedMediaType(
            f"Envoyez une requête RFC 3161 avec Content-Type: {QUERY_TYPE}."
        )
    body = await read_body(request)
    reply = await run_in_threadpool(runtime_of(request).tsa.respond, body)
    return Response(reply, media_type=REPLY_TYPE)
