"""A delegation as read (its effective status, its envelope, who it names),
and the steps its client's and its person's sides share: leaving ``a_signer``
once, telling the client and the person."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sceau.catalogue.service import labels
from sceau.clients.models import Client
from sceau.delegations.envelope import Envelope, describe
from sceau.delegations.errors import DelegationNotPending, DelegationNotSigned
from sceau.delegations.models import (
    STATUS_ACTIVE,
    STATUS_CANCELLED,
    STATUS_EXPIRED,
    STATUS_REFUSED,
    STATUS_REVOKED,
    STATUS_TO_SIGN,
    Delegation,
    DelegationDailyUse,
)
from sceau.events.service import queue_email, record_event
from sceau.people.models import Person
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord
from sceau.signing.service import REF_ALPHABET, get_signed_pdf


def is_delegation_ref(ref: str) -> bool:
    return (
        len(ref) == 19
        and ref.startswith("DLG-")
        and ref[4:12].isdigit()
        and ref[12] == "-"
        and all(c in REF_ALPHABET for c in ref[13:])
    )


@dataclass(frozen=True)
class DelegationState:
    """A delegation as its client or its person sees it."""

    delegation: Delegation
    # Effective: an active or unsigned delegation past its last day reads
    # ``expiree``.
    status: str
    envelope: Envelope
    client_name: str
    person_name: str
    act_type_labels: dict[str, str]

    @property
    def description(self) -> list[str]:
        return describe(self.envelope, self.act_type_labels)


def envelope_of(delegation: Delegation) -> Envelope:
    return Envelope(
        act_types=tuple(delegation.act_types.split(",")),
        max_amount=delegation.max_amount,
        amount_inclusive=delegation.amount_inclusive,
        weekdays=tuple(int(day) for day in delegation.weekdays.split(",")),
        start_minute=delegation.start_minute,
        end_minute=delegation.end_minute,
        time_zone=delegation.time_zone,
        valid_from=delegation.valid_from,
        valid_until=delegation.valid_until,
        daily_limit=delegation.daily_limit,
    )


def effective_status(delegation: Delegation, now: datetime) -> str:
    if delegation.status in (STATUS_ACTIVE, STATUS_TO_SIGN) and (
        now >= envelope_of(delegation).ends_at()
    ):
        return STATUS_EXPIRED
    return delegation.status


def state_of(
    session: Session, delegation: Delegation, now: datetime
) -> DelegationState:
    [state] = states_of(session, [delegation], now)
    return state


def states_of(
    session: Session, delegations: Iterable[Delegation], now: datetime
) -> list[DelegationState]:
    """Each delegation with its client's name and catalogue and its person's
    name, each read once however many delegations share them."""
    client_names: dict[str, str] = {}
    catalogues: dict[str, dict[str, str]] = {}
    person_names: dict[str, str] = {}
    states = []
    for delegation in delegations:
        client_id, person_id = delegation.client_id, delegation.person_id
        if client_id not in client_names:
            client_names[client_id] = session.get_one(Client, client_id).name
            catalogues[client_id] = labels(session, client_id)
        if person_id not in person_names:
            person_names[person_id] = session.get_one(Person, person_id).name
        states.append(
            DelegationState(
                delegation=delegation,
                status=effective_status(delegation, now),
                envelope=envelope_of(delegation),
                client_name=client_names[client_id],
                person_name=person_names[person_id],
                act_type_labels=catalogues[client_id],
            )
        )
    return states


def used_on(session: Session, ref: str, day: Any) -> int:
    use = session.get(DelegationDailyUse, (ref, day))
    return 0 if use is None else use.count


def signed_pdf_of(session: Session, delegation: Delegation) -> bytes:
    if delegation.signature_ref is None:
        raise DelegationNotSigned()
    return get_signed_pdf(
        session, session.get_one(SignatureRecord, delegation.signature_ref)
    )


_NOT_TO_SIGN = {
    STATUS_ACTIVE: "Cette délégation est déjà signée.",
    STATUS_REFUSED: "Cette délégation a été refusée.",
    STATUS_CANCELLED: "Cette délégation a été annulée par le client.",
    STATUS_REVOKED: "Cette délégation a été révoquée.",
    STATUS_EXPIRED: "Cette délégation a dépassé son dernier jour de validité.",
}


def require_to_sign(state: DelegationState) -> None:
    if state.status != STATUS_TO_SIGN:
        raise DelegationNotPending(_NOT_TO_SIGN.get(state.status))


def leave_to_sign(
    session: Session,
    delegation: Delegation,
    status: str,
    now: datetime,
    **values: object,
) -> None:
    """Take the delegation out of ``a_signer`` once, or say why it was."""
    if effective_status(delegation, now) == STATUS_EXPIRED:
        raise DelegationNotPending(_NOT_TO_SIGN[STATUS_EXPIRED])
    left = session.execute(
        update(Delegation)
        .where(Delegation.ref == delegation.ref, Delegation.status == STATUS_TO_SIGN)
        .values(status=status, **values)
        .execution_options(synchronize_session="fetch")
    )
    if left.rowcount != 1:  # type: ignore[attr-defined]
        current = session.scalar(
            select(Delegation.status).where(Delegation.ref == delegation.ref)
        )
        raise DelegationNotPending(_NOT_TO_SIGN.get(current or ""))


def tell_client(
    session: Session,
    delegation: Delegation,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    record_event(
        session,
        client_id=delegation.client_id,
        type=event_type,
        data={"ref_delegation": delegation.ref, "code_09": delegation.code_09} | data,
        subject=delegation.ref,
        now=now,
    )


def tell_person(
    session: Session,
    settings: Settings,
    delegation: Delegation,
    person: Person,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    event = record_event(
        session,
        client_id=delegation.client_id,
        type=event_type,
        data={
            "nom": person.name,
            "ref_delegation": delegation.ref,
            "lien": f"{settings.public_base_url}/signer/delegations/{delegation.ref}",
        }
        | data,
        subject=delegation.ref,
        webhooks=False,
        now=now,
    )
    queue_email(session, event, person.email, now=now)
