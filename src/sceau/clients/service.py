"""Clients (organisations), their level, and their rotating credentials:
API keys (kept as SHA-256) and HMAC secrets (sealed under the master key).

Every change is appended to the audit trail in the caller's transaction, by
reference only (a key's id, never its value). ``by`` names who made it: the
client's own system, a console user, or the operator at the command line;
there is no default, so that no page credits the operator by mistake.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.auth.hmac_scheme import SECRET_PREFIX
from sceau.clients.errors import (
    AllowlistInvalid,
    ApiKeyInvalid,
    ApiKeyNotFound,
    ClientNotFound,
    HmacSecretNotFound,
)
from sceau.clients.models import ApiKey, Client, HmacSecret
from sceau.db import utcnow
from sceau.lifecycle.models import CADRAGE, MAX_ACTOR, STATES, ClientStateChange
from sceau.pki.keystore import KeySealer

PLANS = ("gratuit_notaire", "pay_as_you_go", "forfait", "enterprise")
# The sheet's names (section 4).
PLAN_NAMES = {
    "gratuit_notaire": "Gratuit — Notaires",
    "pay_as_you_go": "Pay-as-you-go",
    "forfait": "Forfait mensuel",
    "enterprise": "Enterprise",
}
LEVELS = ("A", "B", "C")
KEY_PREFIX = "psk_"
KEY_BYTES = 32  # 256 bits, as the sheet says
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=30)
_KEY_ACTIONS = (
    actions.CLE_API_EMISE,
    actions.CLE_API_RENOUVELEE,
    actions.CLE_API_REVOQUEE,
)
_SECRET_ACTIONS = (
    actions.SECRET_HMAC_EMIS,
    actions.SECRET_HMAC_RENOUVELE,
    actions.SECRET_HMAC_REVOQUE,
)


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``secret`` exists only in this object, never in storage."""

    id: str
    client_id: str
    secret: str


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(6)


def create_client(
    session: Session,
    name: str,
    plan: str = "pay_as_you_go",
    level: str = "A",
    *,
    state: str = CADRAGE,
    actor: str = "operateur",
    by: Actor,
) -> Client:
    """A new client at the integration step ``state`` (an operator may
    create it at any step, say to take over an existing integration); the
    step is the first line of its history."""
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}; choose one of {', '.join(PLANS)}")
    _check_level(level)
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; choose one of {', '.join(STATES)}")
    name = name.strip()
    if not name:
        raise ValueError("a client needs a name")
    client = Client(
        id=_new_id("cli_"), name=name, plan=plan, auth_level=level, state=state
    )
    session.add(client)
    session.flush()
    session.add(
        ClientStateChange(
            client_id=client.id,
            from_state=None,
            to_state=state,
            actor=actor.strip()[:MAX_ACTOR] or "operateur",
            at=client.created_at,
        )
    )
    session.flush()
    record(
        session,
        actions.CLIENT_CREE,
        actor=by,
        subject=client.id,
        objects={"client": client.id},
        details={"nom": client.name, "formule": plan, "niveau": level, "etat": state},
        client_id=client.id,
        now=client.created_at,
    )
    return client


def get_client(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise ClientNotFound()
    return client


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.created_at)))


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of A, B, C")


def set_level(session: Session, client_id: str, level: str, *, by: Actor) -> Client:
    _check_level(level)
    client = get_client(session, client_id)
    before = client.auth_level
    client.auth_level = level
    if before != level:
        record_client_change(
            session, actions.CLIENT_NIVEAU_MODIFIE, client.id, by, before, level
        )
    return client


def record_client_change(
    session: Session,
    action: str,
    client_id: str,
    by: Actor,
    before: object,
    after: object,
    *,
    now: datetime | None = None,
    **details: Any,
) -> None:
    """A change of one of a client's terms (level, allowlist, plan, step) in
    the audit trail, with what it was and what it became."""
    record(
        session,
        action,
        actor=by,
        subject=client_id,
        objects={"client": client_id},
        details={"avant": before, "apres": after, **details},
        client_id=client_id,
        now=now,
    )


def parse_allowlist(entries: list[str]) -> list[str]:
    """Normalised CIDRs; a bare address is its own /32 or /128."""
    networks = []
    for entry in entries:
        for part in entry.replace(",", " ").split():
            try:
                networks.append(str(ipaddress.ip_network(part, strict=False)))
            except ValueError as exc:
                raise AllowlistInvalid(
                    f"« {part} » n'est pas une adresse ou un réseau IP (CIDR)."
                ) from exc
    return sorted(set(networks))


def set_allowlist(
    session: Session, client_id: str, entries: list[str], *, by: Actor
) -> Client:
    client = get_client(session, client_id)
    before = allowlist_of(client)
    after = parse_allowlist(entries)
    client.ip_allowlist = " ".join(after)
    if before != after:
        record_client_change(
            session, actions.ADRESSES_IP_MODIFIEES, client.id, by, before, after
        )
    return client


def allowlist_of(client: Client) -> list[str]:
    return client.ip_allowlist.split()


def address_allowed(client: Client, address: str | None) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network) for network in allowlist_of(client))


# -- rotation --------------------------------------------------------------------


def is_active(credential: ApiKey | HmacSecret, now: datetime) -> bool:
    if credential.revoked_at is not None:
        return False
    return credential.expires_at is None or credential.expires_at > now


@dataclass(frozen=True)
class _Retired:
    """What a renewal did to the credentials live before it."""

    # The newest of them, and when it stops working.
    previous: str | None = None
    previous_until: datetime | None = None
    # Those it ended at once (all older ones, and the newest without grace).
    ended: list[str] = field(default_factory=list)
    at: datetime | None = None


def _retire_previous(
    credentials: list[ApiKey] | list[HmacSecret], grace: timedelta
) -> _Retired:
    """Before a new credential is added: the newest live one stays valid for
    ``grace``, any older one ends now, so at most two are ever live."""
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise ValueError("the grace period must be between 0 and 30 days")
    now = utcnow()
    live = sorted(
        (c for c in credentials if is_active(c, now)),
        key=lambda c: c.created_at,
        reverse=True,
    )
    for index, credential in enumerate(live):
        if index == 0 and grace > timedelta(0):
            end = now + grace
            if credential.expires_at is None or credential.expires_at > end:
                credential.expires_at = end
        else:
            credential.revoked_at = now
    if not live:
        return _Retired()
    return _Retired(
        previous=live[0].id,
        previous_until=live[0].revoked_at or live[0].expires_at,
        ended=[c.id for c in live if c.revoked_at == now],
        at=now,
    )


def _record_issue(
    session: Session,
    actions_of: tuple[str, str, str],
    object_key: str,
    new_id: str,
    client_id: str,
    retired: _Retired,
    by: Actor,
) -> None:
    """A new credential in the audit trail: issued (the first) or renewed,
    naming the one it follows, and each one the renewal ended at once as
    revoked, so that every credential's end is found from its own id.
    ``actions_of`` is (issued, renewed, revoked)."""
    issued, renewed, revoked = actions_of
    record(
        session,
        renewed if retired.previous else issued,
        actor=by,
        subject=new_id,
        objects={
            object_key: new_id,
            "client": client_id,
            "precedente": retired.previous,
        },
        details={
            "precedente_valide_jusqu_au": retired.previous_until,
            "fin_immediate": retired.ended or None,
        },
        client_id=client_id,
    )
    for ended in retired.ended:
        record(
            session,
            revoked,
            actor=by,
            subject=ended,
            objects={object_key: ended, "client": client_id, "remplacement": new_id},
            details={"motif": "renouvellement"},
            client_id=client_id,
            now=retired.at,
        )


def hash_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_api_key(
    session: Session,
    client_id: str,
    grace: timedelta = DEFAULT_GRACE,
    *,
    by: Actor,
) -> IssuedKey:
    """A new key; the client's previous key stays valid for ``grace``."""
    get_client(session, client_id)
    retired = _retire_previous(list_api_keys(session, client_id), grace)
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
    _record_issue(session, _KEY_ACTIONS, "cle", key_id, client_id, retired, by)
    return IssuedKey(id=key_id, client_id=client_id, secret=secret)


def revoke_api_key(session: Session, key_id: str, *, by: Actor) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound()
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record(
            session,
            actions.CLE_API_REVOQUEE,
            actor=by,
            subject=key.id,
            objects={"cle": key.id, "client": key.client_id},
            client_id=key.client_id,
            now=key.revoked_at,
        )
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
    if not is_active(key, utcnow()):
        raise ApiKeyInvalid()
    return key


# -- HMAC secrets (level B) --------------------------------------------------------


def hmac_purpose(secret_id: str) -> str:
    return f"hmac:{secret_id}"


def create_hmac_secret(
    session: Session,
    sealer: KeySealer,
    client_id: str,
    grace: timedelta = DEFAULT_GRACE,
    *,
    by: Actor,
) -> IssuedKey:
    """A new level-B secret, shown once; the previous one overlaps for ``grace``."""
    get_client(session, client_id)
    retired = _retire_previous(list_hmac_secrets(session, client_id), grace)
    body = secrets.token_hex(6)
    secret_id = f"hmk_{body}"
    secret = f"{SECRET_PREFIX}{body}_{secrets.token_urlsafe(KEY_BYTES)}"
    session.add(
        HmacSecret(
            id=secret_id,
            client_id=client_id,
            sealed_secret=sealer.seal_bytes(secret.encode(), hmac_purpose(secret_id)),
        )
    )
    session.flush()
    _record_issue(
        session, _SECRET_ACTIONS, "cle_hmac", secret_id, client_id, retired, by
    )
    return IssuedKey(id=secret_id, client_id=client_id, secret=secret)


def list_hmac_secrets(
    session: Session, client_id: str | None = None
) -> list[HmacSecret]:
    query = select(HmacSecret).order_by(HmacSecret.created_at)
    if client_id is not None:
        query = query.where(HmacSecret.client_id == client_id)
    return list(session.scalars(query))


def revoke_hmac_secret(session: Session, secret_id: str, *, by: Actor) -> HmacSecret:
    secret = session.get(HmacSecret, secret_id)
    if secret is None:
        raise HmacSecretNotFound()
    if secret.revoked_at is None:
        secret.revoked_at = utcnow()
        record(
            session,
            actions.SECRET_HMAC_REVOQUE,
            actor=by,
            subject=secret.id,
            objects={"cle_hmac": secret.id, "client": secret.client_id},
            client_id=secret.client_id,
            now=secret.revoked_at,
        )
    return secret
