"""Clients (organisations) and their level-A API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.clients.errors import ApiKeyInvalid, ApiKeyNotFound, ClientNotFound
from sceau.clients.models import ApiKey, Client
from sceau.db import utcnow

PLANS = ("gratuit_notaire", "pay_as_you_go", "forfait", "enterprise")
KEY_PREFIX = "psk_"
KEY_BYTES = 32  # 256 bits, as the sheet says


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``secret`` exists only in this object, never in storage."""

    id: str
    client_id: str
    secret: str


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(6)


def create_client(session: Session, name: str, plan: str = "pay_as_you_go") -> Client:
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}; choose one of {', '.join(PLANS)}")
    name = name.strip()
    if not name:
        raise ValueError("a client needs a name")
    client = Client(id=_new_id("cli_"), name=name, plan=plan)
    session.add(client)
    session.flush()
    return client


def get_client(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise ClientNotFound()
    return client


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.created_at)))


def hash_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_api_key(session: Session, client_id: str) -> IssuedKey:
    get_client(session, client_id)
    key_id = _new_id("key_")
    # The key id is inside the secret so a leaked key names itself in logs and
    # in revocation, without the secret part ever being shown again.
    secret = f"{KEY_PREFIX}{key_id[4:]}_{secrets.token_urlsafe(KEY_BYTES)}"
    session.add(
        ApiKey(
            id=key_id,
            client_id=client_id,
            prefix=secret[: len(KEY_PREFIX) + 12],
            sha256=hash_key(secret),
        )
    )
    session.flush()
    return IssuedKey(id=key_id, client_id=client_id, secret=secret)


def revoke_api_key(session: Session, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound()
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def list_api_keys(session: Session, client_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if client_id is not None:
        query = query.where(ApiKey.client_id == client_id)
    return list(session.scalars(query))


def authenticate_api_key(session: Session, secret: str) -> ApiKey:
    """The live key whose SHA-256 matches ``secret``, or ``ApiKeyInvalid``."""
    digest = hash_key(secret)
    key = session.scalar(select(ApiKey).where(ApiKey.sha256 == digest))
    # The lookup already matched on the digest; the constant-time comparison
    # keeps the final decision free of any data-dependent early exit.
    if key is None or not hmac.compare_digest(key.sha256, digest):
        raise ApiKeyInvalid()
    if key.revoked_at is not None:
        raise ApiKeyInvalid()
    return key
