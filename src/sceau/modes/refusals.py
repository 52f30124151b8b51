"""A signature asked for and not made, in the audit trail: the code and status
the caller was answered, who asked and what they named, whatever the door
(the API's signing routes, the web signer's pages).

The request's transaction rolled back, so the entry takes one of its own
(``record_now``), which never raises: the refusal still reaches the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record_now
from sceau.auth.service import AuthenticatedClient
from sceau.db import Database
from sceau.delegations.errors import EnvelopeCrossed
from sceau.errors import DatabaseUnavailable, SceauError
from sceau.identities.codes import InvalidCode, parse_code

# What a caller typed as a code_09 is kept, cut, when it is not one: enough
# to tell what they sent, never a body's worth of it.
MAX_NAMED_IDENTITY = 100
_SHA256_LENGTH = 64
_HEX = frozenset("0123456789abcdef")


def record_refused_signature(
    db: Database,
    error: SceauError,
    *,
    actor: Actor,
    objects: Mapping[str, str],
    client_id: str | None,
    request_id: str | None,
    now: datetime | None,
    details: Mapping[str, object] | None = None,
) -> None:
    """Record that ``error`` refused the signature ``objects`` name (the act,
    the delegation, the draft, the identity as the caller wrote it). An
    outage of the database is not recorded: its entry could not be written,
    and trying would only delay the answer."""
    if isinstance(error, DatabaseUnavailable):
        return

    named = dict(objects)
    identity = named.get("identite")
    if identity is not None:
        named["identite"] = identity[:MAX_NAMED_IDENTITY]
    facts: dict[str, object] = {"code": error.code, "statut_http": error.status}
    facts |= details or {}
    if isinstance(error, EnvelopeCrossed):
        facts["limite"] = error.crossing.limit
        if error.delegation_ref is not None:
            named["delegation"] = error.delegation_ref

    record_now(
        db,
        actions.SIGNATURE_REFUSEE,
        actor=actor,
        subject=_subject(named, identity),
        objects=named,
        details=facts,
        client_id=client_id,
        request_id=request_id or None,
        now=now,
    )


def record_refused_for_client(
    db: Database,
    error: SceauError,
    client: AuthenticatedClient,
    *,
    address: str | None,
    objects: Mapping[str, str],
    request_id: str | None,
    now: datetime | None,
    details: Mapping[str, object] | None = None,
) -> None:
    """A signature the API refused to a client's system: the client, from
    ``address``, is the actor and the entry is filed under it."""
    record_refused_signature(
        db,
        error,
        actor=Actor.for_client(client, address=address),
        objects=objects,
        client_id=client.client_id,
        request_id=request_id,
        now=now,
        details=details,
    )


def shown_sha256(submitted: str) -> dict[str, object]:
    """The document's SHA-256 a page said it showed, for the details of a
    refusal, when it is one (64 lower-case hex digits); nothing otherwise."""
    if len(submitted) == _SHA256_LENGTH and set(submitted) <= _HEX:
        return {"sha256_affiche": submitted}
    return {}


def _subject(named: Mapping[str, str], identity: str | None) -> str | None:
    """What the refusal is about: the act, the delegation or the draft it
    named, else the identity, only once it is a well-formed code (what a
    caller typed is no reference to index an entry under)."""
    for key in ("acte", "delegation", "brouillon"):
        if key in named:
            return named[key]
    if identity is None:
        return None
    try:
        return str(parse_code(identity))
    except InvalidCode:
        return None
