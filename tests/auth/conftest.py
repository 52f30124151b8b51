"""Credentials for the authentication tests: levels, HMAC secrets, signed
requests built the way an integrator builds them."""

from __future__ import annotations

import json
import secrets
import time

from sceau.audit.actors import Actor
from sceau.auth.hmac_scheme import HEADER, sign_request
from sceau.clients.service import create_hmac_secret, set_allowlist, set_level
from sceau.runtime import Runtime
from tests.conftest import Provisioned


def with_level(
    runtime: Runtime,
    client: Provisioned,
    level: str,
    allowlist: list[str] | None = None,
) -> None:
    with runtime.db.transaction() as session:
        set_level(session, client.client_id, level, by=Actor.operator())
        if allowlist is not None:
            set_allowlist(session, client.client_id, allowlist, by=Actor.operator())


def new_hmac_secret(
    runtime: Runtime, client: Provisioned, grace_hours: float = 24
) -> str:
    from datetime import timedelta

    with runtime.db.transaction() as session:
        issued = create_hmac_secret(
            session,
            runtime.sealer,
            client.client_id,
            timedelta(hours=grace_hours),
            by=Actor.operator(),
        )
    return issued.secret


def signed_headers(
    client: Provisioned,
    secret: str,
    *,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    host: str = "testserver",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    header = sign_request(
        secret,
        method=method,
        host=host,
        path=path,
        query=query,
        body=body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        nonce=nonce or secrets.token_urlsafe(18),
    )
    return {**client.headers, HEADER: header}


def json_bytes(payload: object) -> bytes:
    return json.dumps(payload).encode()
