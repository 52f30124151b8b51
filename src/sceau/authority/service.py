"""A client's authority matrix: publishing versions, reading them, and what
the version in force says of a request.

- ``publish(session, client_id, *, rules, review_due, overdue_policy, author,
  now) -> MatrixVersion``: a new version, numbered after the last (the
  version in force when it says the same: same rules, review date, policy);
- ``current(session, client_id, now) -> MatrixVersion | None``, ``version(…,
  n, now)``, ``versions(…) -> list[MatrixVersion]`` (newest first);
- ``check_request(session, client_id, *, mode, code_09, act_type, amount,
  today) -> MatrixVerdict | None``: a signing request checked against the
  matrix in force (``None``: the client has no matrix, nothing is enforced);
- ``decide(session, client_id, *, act_type, amount, today) -> MatrixVerdict``:
  the rule that says how such an act is signed.

Review dates are calendar days in the business time zone (``business_date``).
Functions work in the caller's transaction.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.audit.actors import Actor
from sceau.audit.service import record
from sceau.authority.errors import (
    ActTypeRequired,
    AgainstMatrix,
    AmountRequired,
    InvalidAmount,
    InvalidMatrix,
    MatrixReviewOverdue,
    MatrixVersionNotFound,
    NoMatrixToDecide,
    OutsideMatrix,
    PublishConflict,
)
from sceau.authority.models import POLICIES, POLICY_REFUSE, AuthorityMatrix
from sceau.authority.rules import (
    MAX_AMOUNT,
    MODE_SYSTEM,
    Rule,
    describe_range,
    describe_rule,
    format_amount,
    matching_rule,
    parse_rules,
    rules_from_json,
    rules_of_kind,
    rules_to_json,
)
from sceau.catalogue.service import labels, lock_client, require_known
from sceau.identities.codes import InvalidCode, parse_code
from sceau.identities.models import Identity
from sceau.identities.service import KIND_PERSON, KIND_SYSTEM

logger = logging.getLogger(__name__)

# TODO(no business time zone setting yet): DESIGN.md wants Africa/Abidjan
# configurable; the review dates read the calendar there until a setting exists.
BUSINESS_TIME_ZONE = ZoneInfo("Africa/Abidjan")
# « Revue annuellement »: a review date at most this many months ahead.
MAX_REVIEW_MONTHS = 13
# Where the API puts a verdict's warning (an overdue review, policy avertir).
WARNING_HEADER = "X-Pixel-Avertissement"


@dataclass(frozen=True)
class MatrixVersion:
    version: int
    rules: tuple[Rule, ...]
    review_due: date
    overdue_policy: str
    created_at: datetime
    author: str
    # Whether the review date had passed at the ``now`` it was read at.
    overdue: bool


@dataclass(frozen=True)
class MatrixVerdict:
    """The rule of the matrix in force (``version``) that covers a request;
    ``warning`` is a French sentence when the matrix is overdue for review
    and its policy is to warn."""

    version: int
    rule: Rule
    warning: str | None


def business_date(now: datetime) -> date:
    return now.astimezone(BUSINESS_TIME_ZONE).date()


# -- publishing ----------------------------------------------------------------


def publish(
    session: Session,
    client_id: str,
    *,
    rules: Sequence[Mapping[str, object]],
    review_due: date,
    overdue_policy: str,
    author: str,
    now: datetime,
    by: Actor,
) -> MatrixVersion:
    """Check the whole matrix, then write it as the client's next version,
    unless it is the version in force over again (same rules, review date
    and policy): that version is returned as it is, whoever published it.

    ``rules`` come as the API sends them (``type_acte``, ``montant_min``,
    ``montant_max``, ``mode``, ``code_09``); they are numbered R1, R2… in
    their order. Any fault is an ``InvalidMatrix`` naming the rule.
    """
    today = business_date(now)
    _check_policy(overdue_policy)
    _check_review_date(review_due, today)
    parsed = parse_rules(rules)

    # Held until commit: publishes of one client, and changes of its
    # catalogue, queue here; each sees what the previous one wrote.
    lock_client(session, client_id)
    _check_act_types(session, client_id, parsed)
    _check_identities(session, client_id, parsed)

    last = _current_row(session, client_id)
    if (
        last is not None
        and rules_from_json(last.rules) == tuple(parsed)
        and last.review_due == review_due
        and last.overdue_policy == overdue_policy
    ):
        # The same matrix again (a request sent twice, its first answer
        # lost): the version in force is the answer, and nothing is written.
        logger.info(
            "authority.unchanged",
            extra={"client_id": client_id, "version": last.version},
        )
        return _view(last, today)
    row = AuthorityMatrix(
        client_id=client_id,
        version=(0 if last is None else last.version) + 1,
        rules=rules_to_json(parsed),
        review_due=review_due,
        overdue_policy=overdue_policy,
        created_at=now,
        author=author[:64],
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        # Only a writer that skipped the lock above can get here.
        raise PublishConflict() from exc

    record(
        session,
        actions.MATRICE_PUBLIEE,
        actor=by,
        subject=client_id,
        objects={"client": client_id},
        hashes={"regles": hashlib.sha256(row.rules.encode()).hexdigest()},
        details={
            "version": row.version,
            "regles": len(parsed),
            "revue_le": review_due.isoformat(),
            "politique_revue": overdue_policy,
        },
        client_id=client_id,
        now=now,
    )
    logger.info(
        "authority.published",
        extra={
            "client_id": client_id,
            "version": row.version,
            "rules": len(parsed),
            "author": row.author,
        },
    )
    return _view(row, today)


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise InvalidMatrix(
            f"La politique de revue « {policy} » est inconnue : politique_revue "
            f"vaut {' ou '.join(POLICIES)}."
        )


def _check_review_date(review_due: date, today: date) -> None:
    if review_due <= today:
        raise InvalidMatrix(
            f"revue_le ({review_due.isoformat()}) doit être une date à venir : "
            "la matrice est revue au moins une fois par an."
        )
    latest = add_months(today, MAX_REVIEW_MONTHS)
    if review_due > latest:
        raise InvalidMatrix(
            f"revue_le ({review_due.isoformat()}) est trop lointaine : la matrice "
            f"d'autorité est revue chaque année, au plus tard le "
            f"{latest.isoformat()} ({MAX_REVIEW_MONTHS} mois)."
        )


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _check_act_types(session: Session, client_id: str, rules: Sequence[Rule]) -> None:
    known = labels(session, client_id)
    for rule in rules:
        if rule.type_acte not in known:
            listed = (
                f"types connus : {', '.join(known)}"
                if known
                else "le catalogue est vide : établissez-le d'abord "
                "(PUT /api/v1/sceau/b2b/types-acte)"
            )
            raise InvalidMatrix(
                f"Règle {rule.numero} : le type d'acte « {rule.type_acte} » "
                f"n'est pas au catalogue de ce client ({listed})."
            )


def _check_identities(session: Session, client_id: str, rules: Sequence[Rule]) -> None:
    named = {rule.code_09 for rule in rules if rule.code_09 is not None}
    found = {
        identity.code_09: identity
        for identity in session.scalars(
            select(Identity).where(Identity.code_09.in_(named))
        )
    }
    for rule in rules:
        if rule.code_09 is None:
            continue
        try:
            code = parse_code(rule.code_09)
        except InvalidCode as exc:
            raise InvalidMatrix(f"Règle {rule.numero} : code_09 — {exc}") from exc
        if str(code) != rule.code_09:
            raise InvalidMatrix(
                f"Règle {rule.numero} : code_09 s'écrit sans espace, en "
                f"majuscules : « {code} »."
            )

        system_mode = rule.mode == MODE_SYSTEM
        if code.is_system != system_mode:
            expected = (
                "une identité système (09S-…)" if system_mode else "une personne (09-…)"
            )
            raise InvalidMatrix(
                f"Règle {rule.numero} : en mode {rule.mode}, code_09 désigne "
                f"{expected}, pas {rule.code_09}."
            )

        identity = found.get(rule.code_09)
        kind = KIND_SYSTEM if system_mode else KIND_PERSON
        # Another client's identity reads as unknown: nothing is told of it.
        if identity is None or identity.client_id != client_id or identity.kind != kind:
            raise InvalidMatrix(
                f"Règle {rule.numero} : {rule.code_09} n'est pas une identité de "
                "ce client."
            )
        if identity.revoked_at is not None:
            raise InvalidMatrix(
                f"Règle {rule.numero} : l'identité {rule.code_09} est révoquée et "
                "ne peut plus signer."
            )


# -- reading -------------------------------------------------------------------


def current(session: Session, client_id: str, now: datetime) -> MatrixVersion | None:
    row = _current_row(session, client_id)
    return None if row is None else _view(row, business_date(now))


def version(session: Session, client_id: str, n: int, now: datetime) -> MatrixVersion:
    row = session.scalars(
        select(AuthorityMatrix).where(
            AuthorityMatrix.client_id == client_id, AuthorityMatrix.version == n
        )
    ).first()
    if row is None:
        raise MatrixVersionNotFound()
    return _view(row, business_date(now))


def versions(session: Session, client_id: str, now: datetime) -> list[MatrixVersion]:
    """Every version, newest (the one in force) first."""
    today = business_date(now)
    rows = session.scalars(
        select(AuthorityMatrix)
        .where(AuthorityMatrix.client_id == client_id)
        .order_by(AuthorityMatrix.version.desc())
    )
    return [_view(row, today) for row in rows]


def _current_row(session: Session, client_id: str) -> AuthorityMatrix | None:
    return session.scalars(
        select(AuthorityMatrix)
        .where(AuthorityMatrix.client_id == client_id)
        .order_by(AuthorityMatrix.version.desc())
        .limit(1)
    ).first()


def _view(row: AuthorityMatrix, today: date) -> MatrixVersion:
    return MatrixVersion(
        version=row.version,
        rules=rules_from_json(row.rules),
        review_due=row.review_due,
        overdue_policy=row.overdue_policy,
        created_at=row.created_at,
        author=row.author,
        overdue=today > row.review_due,
    )


# -- what the matrix says of a request ----------------------------------------


def check_request(
    session: Session,
    client_id: str,
    *,
    mode: str,
    code_09: str,
    act_type: str | None,
    amount: int | None,
    today: date,
) -> MatrixVerdict | None:
    """The verdict on a request to sign in ``mode`` by ``code_09`` (an
    identity the caller has already checked is the client's), or the error
    that refuses it. ``None`` when the client has no matrix."""
    row = _current_row(session, client_id)
    if row is None:
        return None
    matrix = _view(row, today)
    verdict = _verdict(session, client_id, matrix, act_type, amount)

    rule = verdict.rule
    if rule.mode != mode or (rule.code_09 is not None and rule.code_09 != code_09):
        error = AgainstMatrix(
            f"Selon la règle {rule.numero} de la matrice d'autorité (version "
            f"{matrix.version}), {describe_rule(rule)} ; cette demande est en "
            f"mode {mode} par {code_09}."
        )
        error.details = {
            "regle": rule.numero,
            "version_matrice": matrix.version,
            "mode_attendu": rule.mode,
            "code_09_attendu": rule.code_09,
        }
        raise error
    return verdict


def decide(
    session: Session,
    client_id: str,
    *,
    act_type: str,
    amount: int | None,
    today: date,
) -> MatrixVerdict:
    """The rule for an act of this kind and amount, when the client lets the
    matrix say how it is signed. A rule without ``code_09`` leaves the choice
    of the identity to the request."""
    row = _current_row(session, client_id)
    if row is None:
        raise NoMatrixToDecide()
    return _verdict(session, client_id, _view(row, today), act_type, amount)


def _verdict(
    session: Session,
    client_id: str,
    matrix: MatrixVersion,
    act_type: str | None,
    amount: int | None,
) -> MatrixVerdict:
    warning = _review_warning(matrix)
    if not act_type:
        raise ActTypeRequired()
    of_kind = rules_of_kind(matrix.rules, act_type)
    if not of_kind:
        # A typo reads as such, before the matrix is blamed for a gap.
        require_known(session, client_id, [act_type])

    if amount is not None and not 0 <= amount <= MAX_AMOUNT:
        raise InvalidAmount()
    if amount is None and any(rule.depends_on_amount for rule in of_kind):
        required = AmountRequired(
            f"Les règles de la matrice d'autorité (version {matrix.version}) "
            f"pour les actes « {act_type} » dépendent du montant : indiquez "
            "montant (entier, en FCFA)."
        )
        required.details = {"version_matrice": matrix.version, "type_acte": act_type}
        raise required

    rule = matching_rule(of_kind, amount)
    if rule is None:
        asked = f" de {format_amount(amount)}" if amount is not None else ""
        outside = OutsideMatrix(
            f"La matrice d'autorité (version {matrix.version}) ne prévoit aucune "
            f"règle pour les actes « {act_type} »{asked} : rien ne peut être "
            "signé hors de la matrice. Vérifiez type_acte et montant, ou faites "
            f"compléter la matrice{_covered(of_kind)}."
        )
        outside.details = {
            "version_matrice": matrix.version,
            "type_acte": act_type,
            "montant": amount,
        }
        raise outside
    return MatrixVerdict(matrix.version, rule, warning)


def _covered(rules: Sequence[Rule]) -> str:
    if not rules:
        return ""
    ranges = sorted((rule.montant_min, rule.montant_max) for rule in rules)
    return (
        " (tranches prévues : "
        + ", ".join(describe_range(low, high) for low, high in ranges)
        + ")"
    )


def _review_warning(matrix: MatrixVersion) -> str | None:
    """``None`` while the review date has not passed (the day itself is not
    late); else the warning, or the refusal under policy ``refuser``."""
    if not matrix.overdue:
        return None
    due = matrix.review_due.isoformat()
    if matrix.overdue_policy == POLICY_REFUSE:
        error = MatrixReviewOverdue(
            f"La matrice d'autorité (version {matrix.version}) devait être revue "
            f"le {due} au plus tard, et sa politique de revue est « refuser » : "
            "aucune demande n'est admise avant la publication d'une version "
            "revue (PUT /api/v1/sceau/b2b/matrice)."
        )
        error.details = {"version_matrice": matrix.version, "revue_le": due}
        raise error
    return (
        f"La matrice d'autorité (version {matrix.version}) devait être revue le "
        f"{due} au plus tard : publiez-en une version revue."
    )
