"""Turning a request's credentials into an authenticated client (level A)."""

from __future__ import annotations

from dataclasses import dataclass

from sceau.clients.errors import ApiKeyInvalid, ApiKeyMissing
from sceau.clients.service import authenticate_api_key
from sceau.db import Database

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class AuthenticatedClient:
    client_id: str
    api_key_id: str
    level: str = "A"


def authenticate_level_a(db: Database, header_value: str | None) -> AuthenticatedClient:
    if header_value is None or not header_value.strip():
        raise ApiKeyMissing()
    secret = header_value.strip()
    if len(secret) > MAX_KEY_LENGTH or not secret.isascii():
        raise ApiKeyInvalid()
    with db.sessions() as session:
        key = authenticate_api_key(session, secret)
        return AuthenticatedClient(client_id=key.client_id, api_key_id=key.id)
