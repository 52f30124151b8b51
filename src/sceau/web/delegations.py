"""Delegations in the web signer: what the person reads before signing one,
the pages of its document drawn for them alone, their delegations sorted for
the list and the home page. No HTTP here; deciding is
``sceau.delegations.service``'s (``sign_delegation``, ``refuse_delegation``,
``revoke_delegation``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from sceau.audit import actions
from sceau.delegations.models import (
    STATUS_ACTIVE,
    STATUS_EXPIRED,
    STATUS_TO_SIGN,
)
from sceau.delegations.service import (
    DelegationState,
    delegation_document,
    get_for_person,
    list_for_person,
    signed_pdf_for_person,
)
from sceau.runtime import Runtime
from sceau.web import consultations, preview
from sceau.web.sessions import SignedIn

STATUS_LABELS = {
    "a_signer": "à signer",
    "active": "en vigueur",
    "refusee": "refusée",
    "annulee": "annulée",
    "revoquee": "révoquée",
    "expiree": "expirée",
}


@dataclass(frozen=True)
class DelegationReading:
    """A delegation as its page shows it. ``page_count`` is ``None`` when
    PDFium cannot draw the document (the person reads the download instead)."""

    state: DelegationState
    page_count: int | None
    shown_pages: int

    @property
    def to_sign(self) -> bool:
        return self.state.status == STATUS_TO_SIGN

    @property
    def ended_at(self) -> datetime | None:
        return ended_at(self.state)


@dataclass(frozen=True)
class PersonDelegations:
    """The list page's three groups, each newest first."""

    to_sign: list[DelegationState] = field(default_factory=list)
    active: list[DelegationState] = field(default_factory=list)
    ended: list[DelegationState] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.to_sign or self.active or self.ended)


def read_delegation(
    runtime: Runtime, signed_in: SignedIn, ref: str, *, now: datetime
) -> DelegationReading:
    """The person's own delegation; its pages are counted only while it waits
    for their signature, as only then are they drawn."""
    with runtime.db.sessions() as session:
        state = get_for_person(session, signed_in.person_id, ref, now)
        if state.status != STATUS_TO_SIGN:
            return DelegationReading(state, None, 0)
        count = preview.shown_page_count(
            state.delegation.sha256_document,
            lambda: delegation_document(session, state.delegation),
        )
    shown = min(count or 0, runtime.settings.web_preview_max_pages)
    return DelegationReading(state, count, shown)


def record_consultation(
    runtime: Runtime,
    signed_in: SignedIn,
    reading: DelegationReading,
    *,
    address: str | None,
    now: datetime,
) -> None:
    """The person opened the delegation's page (``delegation.consultee``):
    what they were shown, by its SHA-256 and page count. Reading changes
    nothing, so the entry takes a transaction of its own."""
    delegation = reading.state.delegation
    consultations.record_consultation(
        runtime,
        signed_in,
        actions.DELEGATION_CONSULTEE,
        consultations.Consulted(
            kind="delegation",
            ref=delegation.ref,
            code_09=delegation.code_09,
            client_id=delegation.client_id,
            sha256_shown=delegation.sha256_document,
            page_count=reading.page_count,
            status=reading.state.status,
        ),
        address=address,
        now=now,
    )


def delegation_page_png(
    runtime: Runtime, signed_in: SignedIn, ref: str, number: int, *, now: datetime
) -> bytes:
    """Page ``number`` (from 1) of the delegation's document, within the
    rendering cap, for the person it is addressed to."""
    with runtime.db.sessions() as session:
        delegation = get_for_person(session, signed_in.person_id, ref, now).delegation

    def load() -> bytes:
        with runtime.db.sessions() as session:
            return delegation_document(session, delegation)

    return preview.shown_page_png(
        delegation.sha256_document,
        number,
        dpi=runtime.settings.web_preview_dpi,
        max_pages=runtime.settings.web_preview_max_pages,
        load=load,
    )


def document_pdf(
    runtime: Runtime, signed_in: SignedIn, ref: str, *, now: datetime
) -> bytes:
    """The exact bytes the person is asked to sign (or was)."""
    with runtime.db.sessions() as session:
        state = get_for_person(session, signed_in.person_id, ref, now)
        return delegation_document(session, state.delegation)


def signed_pdf(runtime: Runtime, signed_in: SignedIn, ref: str) -> bytes:
    """The delegation as the person signed it (``delegation_non_signee``
    before)."""
    with runtime.db.sessions() as session:
        return signed_pdf_for_person(session, signed_in.person_id, ref)


def person_delegations(
    session: Session, signed_in: SignedIn, *, now: datetime
) -> PersonDelegations:
    grouped = PersonDelegations()
    for state in list_for_person(session, signed_in.person_id, now):
        if state.status == STATUS_TO_SIGN:
            grouped.to_sign.append(state)
        elif state.status == STATUS_ACTIVE:
            grouped.active.append(state)
        else:
            grouped.ended.append(state)
    return grouped


def waiting_delegations(
    session: Session, signed_in: SignedIn, *, now: datetime
) -> list[DelegationState]:
    """The delegations waiting for the person's signature, newest first."""
    return [
        state
        for state in list_for_person(session, signed_in.person_id, now)
        if state.status == STATUS_TO_SIGN
    ]


def ended_at(state: DelegationState) -> datetime | None:
    """When the delegation stopped counting: the decision's time, or for an
    expired one the end of its last day (nothing records that moment)."""
    if state.status == STATUS_EXPIRED:
        return state.envelope.ends_at()
    return state.delegation.ended_at
