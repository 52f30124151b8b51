"""A client's catalogue of act kinds: what ``type_acte`` may say.

- ``labels(session, client_id) -> dict[str, str]``: code → label, by code;
- ``require_known(session, client_id, codes)``: raises ``UnknownActType``
  (``type_acte_inconnu``) naming the first code the catalogue lacks;
- ``parse_entries(items) -> dict[str, str]``: the API's list of
  ``{"code", "libelle"}`` as code → label, or ``InvalidCatalogue``;
- ``replace_catalogue(session, client_id, entries, now) -> dict[str, str]``:
  the whole catalogue replaced, refusing to remove a kind still in use;
- ``lock_client(session, client_id)``: serialises the changes of a client's
  catalogue and authority matrix, which check each other.

Functions work in the caller's transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sceau.authority.models import AuthorityMatrix
from sceau.authority.rules import rules_from_json
from sceau.catalogue.errors import ActTypeInUse, InvalidCatalogue, UnknownActType
from sceau.catalogue.models import ActType
from sceau.clients.errors import ClientNotFound
from sceau.clients.models import Client
from sceau.delegations.models import STATUS_ACTIVE, STATUS_TO_SIGN, Delegation

MAX_ENTRIES = 200
MAX_LABEL = 200
CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def labels(session: Session, client_id: str) -> dict[str, str]:
    rows = session.execute(
        select(ActType.code, ActType.label)
        .where(ActType.client_id == client_id)
        .order_by(ActType.code)
    )
    return {code: label for code, label in rows}


def require_known(session: Session, client_id: str, codes: Iterable[str]) -> None:
    known = labels(session, client_id)
    for code in codes:
        if code not in known:
            raise UnknownActType(
                f"Le type d'acte « {code} » n'est pas au catalogue de ce client"
                + (
                    f" (types connus : {', '.join(known)})."
                    if known
                    else " : son catalogue est vide ; l'opérateur ou la console "
                    "l'établit avant toute délégation ou matrice d'autorité."
                )
            )


# -- replacing the catalogue ---------------------------------------------------


def lock_client(session: Session, client_id: str) -> None:
    """Hold the client's row until the transaction ends, so that a change of
    its catalogue and a change of its matrix never check each other against a
    state the other is replacing. ``FOR NO KEY UPDATE`` on PostgreSQL: rows
    that merely point at the client (signatures, events) are not held up.
    SQLite has one writer at a time already."""
    found = session.execute(
        select(Client.id).where(Client.id == client_id).with_for_update(key_share=True)
    ).first()
    if found is None:
        raise ClientNotFound()


def parse_entries(items: object) -> dict[str, str]:
    """``[{"code": …, "libelle": …}, …]`` as code → label; the labels and
    codes themselves are checked by ``replace_catalogue``."""
    if not isinstance(items, list):
        raise InvalidCatalogue(
            'types_acte doit être une liste d\'objets {"code", "libelle"}.'
        )
    entries: dict[str, str] = {}
    for index, item in enumerate(items, 1):
        if (
            not isinstance(item, Mapping)
            or set(item) != {"code", "libelle"}
            or not isinstance(item["code"], str)
            or not isinstance(item["libelle"], str)
        ):
            raise InvalidCatalogue(
                f"Type d'acte n° {index} : un objet "
                '{"code": "…", "libelle": "…"} est attendu, sans autre champ.'
            )
        if item["code"] in entries:
            raise InvalidCatalogue(
                f"Le code « {item['code']} » figure deux fois dans le catalogue."
            )
        entries[item["code"]] = item["libelle"]
    return entries


def replace_catalogue(
    session: Session, client_id: str, entries: Mapping[str, str], now: datetime
) -> dict[str, str]:
    """The client's catalogue becomes ``entries`` (code → label): kinds kept
    keep their creation date, labels may change. Refused whole when an entry
    is invalid, or when it would remove a kind still in use."""
    wanted = _checked(entries)
    lock_client(session, client_id)
    current = labels(session, client_id)

    removed = set(current) - set(wanted)
    if removed:
        _refuse_removing_used(session, client_id, removed, now)
        session.execute(
            delete(ActType).where(
                ActType.client_id == client_id, ActType.code.in_(removed)
            )
        )
    rows = {
        row.code: row
        for row in session.scalars(
            select(ActType).where(ActType.client_id == client_id)
        )
    }
    for code, label in wanted.items():
        row = rows.get(code)
        if row is None:
            session.add(
                ActType(client_id=client_id, code=code, label=label, created_at=now)
            )
        elif row.label != label:
            row.label = label
    session.flush()
    return labels(session, client_id)


def _checked(entries: Mapping[str, str]) -> dict[str, str]:
    if len(entries) > MAX_ENTRIES:
        raise InvalidCatalogue(
            f"Un catalogue compte au plus {MAX_ENTRIES} types d'actes "
            f"({len(entries)} reçus)."
        )
    checked: dict[str, str] = {}
    for code, label in entries.items():
        if not isinstance(code, str) or CODE_PATTERN.fullmatch(code) is None:
            raise InvalidCatalogue(
                f"Code de type d'acte invalide : « {code} ». Un code compte de 1 "
                "à 64 caractères parmi les minuscules sans accent, les chiffres, "
                "« _ », « . » et « - », et commence par une lettre ou un "
                "chiffre (exemple : police_assurance)."
            )
        checked[code] = _checked_label(code, label)
    return checked


def _checked_label(code: str, label: object) -> str:
    text = (
        " ".join(unicodedata.normalize("NFC", label).split())
        if isinstance(label, str)
        else ""
    )
    if not 1 <= len(text) <= MAX_LABEL:
        raise InvalidCatalogue(
            f"Le libellé du type d'acte « {code} » compte de 1 à {MAX_LABEL} "
            "caractères."
        )
    # Labels go into e-mails, pages and the delegation's document; a NUL
    # cannot even be stored by PostgreSQL.
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise InvalidCatalogue(
            f"Le libellé du type d'acte « {code} » contient un caractère de "
            "contrôle (NUL, tabulation…) : retirez-le."
        )
    return text


def _refuse_removing_used(
    session: Session, client_id: str, removed: set[str], now: datetime
) -> None:
    # The matrix in force names act kinds in its rules; earlier versions are
    # history and hold nothing back.
    matrix = session.scalars(
        select(AuthorityMatrix)
        .where(AuthorityMatrix.client_id == client_id)
        .order_by(AuthorityMatrix.version.desc())
        .limit(1)
    ).first()
    if matrix is not None:
        for rule in rules_from_json(matrix.rules):
            if rule.type_acte in removed:
                raise ActTypeInUse(
                    f"Le type d'acte « {rule.type_acte} » est utilisé par la règle "
                    f"{rule.numero} de la matrice d'autorité en vigueur (version "
                    f"{matrix.version}) : publiez d'abord une matrice qui ne le "
                    "nomme plus, puis retirez-le du catalogue."
                )

    # A delegation that is in force, or waits for its signature, names act
    # kinds in its envelope: its document promises them. One past its last
    # day no longer does (a day's margin covers any delegation's zone).
    delegations = session.execute(
        select(Delegation.ref, Delegation.act_types).where(
            Delegation.client_id == client_id,
            Delegation.status.in_((STATUS_ACTIVE, STATUS_TO_SIGN)),
            Delegation.valid_until >= now.date() - timedelta(days=1),
        )
    )
    for ref, act_types in delegations:
        for code in act_types.split(","):
            if code in removed:
                raise ActTypeInUse(
                    f"Le type d'acte « {code} » est dans l'enveloppe de la "
                    f"délégation {ref}, en vigueur ou à signer : elle doit prendre "
                    "fin (révocation, retrait, expiration) avant qu'il soit retiré "
                    "du catalogue."
                )
