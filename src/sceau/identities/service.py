"""Identities: a code, a label, a key (sealed, or in the PKCS#11 token) and a
signing certificate.

System identities (``09S-…``) sign through the API; personal ones (``09-…``,
made by ``sceau.people``) sign only for their person.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from functools import partial

from cryptography.hazmat.primitives import serialization
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.clients.service import get_client
from sceau.identities.codes import (
    SYSTEM_PREFIX,
    InvalidCode,
    generate_body,
    make_code,
    parse_code,
)
from sceau.identities.errors import (
    CodeTaken,
    IdentityOfAnotherClient,
    IdentityRevoked,
    MalformedCode,
    PersonalIdentity,
    SignerNameMismatch,
    UnknownIdentity,
)
from sceau.identities.models import Identity
from sceau.pki.keystore import KeyAlgorithm, KeySealer, generate_key
from sceau.pki.service import ServicePki

KIND_SYSTEM = "systeme"
KIND_PERSON = "personne"
_GENERATION_ATTEMPTS = 20


def key_purpose(code_09: str) -> str:
    return f"identity:{code_09}"


def create_system_identity(
    session: Session,
    pki: ServicePki,
    sealer: KeySealer,
    *,
    client_id: str,
    label: str,
    body: str | None = None,
    algorithm: KeyAlgorithm = "rsa3072",
    by: Actor,
) -> Identity:
    client = get_client(session, client_id)
    label = normalise_label(label)
    if not label:
        raise ValueError("a system identity needs a label")

    return issue_identity(
        session,
        pki,
        sealer,
        code=choose_code(session, SYSTEM_PREFIX, body),
        kind=KIND_SYSTEM,
        client_id=client.id,
        label=label,
        organisation=client.name,
        algorithm=algorithm,
        by=by,
    )


def issue_identity(
    session: Session,
    pki: ServicePki,
    sealer: KeySealer,
    *,
    code: str,
    kind: str,
    client_id: str,
    label: str,
    organisation: str,
    algorithm: KeyAlgorithm,
    by: Actor,
) -> Identity:
    """An identity of either kind: a fresh key, sealed under the master key or
    made inside the token (``pki.new_keys``), and a signing certificate from
    the issuing CA (CN = label, serialNumber = code). ``by`` is who issued it,
    for the audit trail."""
    keys = pki.new_keys
    sealed_key: bytes | None = None
    key_label: str | None = None
    destroy: Callable[[], None] | None = None
    if keys is None:
        key = generate_key(algorithm)
        public_key = key.public_key()
        sealed_key = sealer.seal(key, key_purpose(code))
    else:
        # A key pair made for an identity that is not written after all (the
        # certificate or the transaction fails) is destroyed again.
        token_key = keys.generate(algorithm, key_purpose(code))
        public_key = token_key.public_key()
        key_label = token_key.label
        destroy = partial(keys.destroy, token_key)
    try:
        identity = _with_key(
            session,
            pki,
            code=code,
            kind=kind,
            client_id=client_id,
            label=label,
            organisation=organisation,
            algorithm=algorithm,
            public_key=public_key,
            sealed_key=sealed_key,
            key_label=key_label,
            on_rollback=destroy,
        )
    except BaseException:
        if destroy is not None:
            destroy()
        raise
    record(
        session,
        actions.IDENTITE_EMISE,
        actor=by,
        subject=identity.code_09,
        objects={"identite": identity.code_09},
        details={
            "type": kind,
            "libelle": label,
            "algorithme": algorithm,
            "empreinte_certificat": hashlib.sha256(
                identity.certificate_der
            ).hexdigest(),
        },
        client_id=client_id,
    )
    return identity


_ON_ROLLBACK = "sceau.identities.on_rollback"


def _with_key(
    session: Session,
    pki: ServicePki,
    *,
    code: str,
    kind: str,
    client_id: str,
    label: str,
    organisation: str,
    algorithm: KeyAlgorithm,
    public_key: object,
    sealed_key: bytes | None,
    key_label: str | None,
    on_rollback: Callable[[], None] | None,
) -> Identity:
    certificate = pki.issue_signing_certificate(
        session,
        common_name=label,
        organisation=organisation,
        serial_number_attr=code,
        public_key=public_key,
        purpose="identity",
    )
    identity = Identity(
        code_09=code,
        kind=kind,
        client_id=client_id,
        label=label,
        organisation=organisation,
        key_algorithm=algorithm,
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        sealed_key=sealed_key,
        key_label=key_label,
    )
    session.add(identity)
    session.flush()
    if on_rollback is not None:
        _on_rollback(session, on_rollback)
    return identity


def _on_rollback(session: Session, action: Callable[[], None]) -> None:
    """``action`` once if the session's transaction rolls back, never once it
    has committed: a token key made for a row that was not written."""
    pending: list[Callable[[], None]] | None = session.info.get(_ON_ROLLBACK)
    if pending is None:
        pending = session.info[_ON_ROLLBACK] = []

        def rolled_back(_session: Session) -> None:
            actions = list(pending)
            pending.clear()
            for each in actions:
                each()

        event.listen(session, "after_rollback", rolled_back)
        event.listen(session, "after_commit", lambda _session: pending.clear())
    pending.append(action)


def choose_code(session: Session, prefix: str, body: str | None) -> str:
    """The operator's ``body`` if free, else a generated one that is free."""
    if body is not None:
        code = str(make_code(prefix, body))
        if session.get(Identity, code) is not None:
            raise CodeTaken(f"the code {code} is already in use")
        return code
    for _ in range(_GENERATION_ATTEMPTS):
        code = str(make_code(prefix, generate_body()))
        if session.get(Identity, code) is None:
            return code
    raise CodeTaken("could not generate a free code; try again")


def list_identities(session: Session, client_id: str | None = None) -> list[Identity]:
    query = select(Identity).order_by(Identity.created_at)
    if client_id is not None:
        query = query.where(Identity.client_id == client_id)
    return list(session.scalars(query))


def normalise_label(text: str) -> str:
    """Labels compare in Unicode NFC with outer and repeated spaces folded."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def resolve_signing_identity(
    session: Session,
    *,
    client_id: str,
    code_09: str,
    signer_name: str,
    personal_allowed: bool = False,
) -> Identity:
    """The identity a request may sign with, checked in the order the API
    promises: form of the code, existence, ownership, state, then the name.
    A person's identity is accepted only where ``personal_allowed`` (signing
    under that person's delegation)."""
    try:
        code = parse_code(code_09)
    except InvalidCode as exc:
        raise MalformedCode(str(exc)) from exc

    identity = session.get(Identity, str(code))
    if identity is None:
        raise UnknownIdentity()
    if identity.client_id != client_id:
        raise IdentityOfAnotherClient()
    if identity.revoked_at is not None:
        raise IdentityRevoked()
    # A person's key signs only for that person, once logged in: never on the
    # word of a client's API key.
    if identity.kind != KIND_SYSTEM and not personal_allowed:
        raise PersonalIdentity()

    if normalise_label(signer_name) != identity.label:
        raise SignerNameMismatch(
            "nom_signataire ne correspond pas au libellé enregistré de cette "
            f"identité : attendu « {identity.label} »."
        )
    return identity
