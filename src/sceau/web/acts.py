"""Acts in the web signer: what the person reads before deciding, the pages
of the act's document drawn for them alone, and the acts on the home page.
No HTTP here; deciding is ``sceau.acts.service``'s (``sign_act``,
``refuse_act``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sceau.acts.models import STATUS_PENDING
from sceau.acts.service import (
    act_document,
    get_act_for_person,
    list_for_person,
    list_waiting_for_person,
)
from sceau.acts.states import ActState
from sceau.audit import actions
from sceau.runtime import Runtime
from sceau.web import consultations, preview
from sceau.web.sessions import SignedIn

# How many decided acts the home page lists; the client keeps the full record.
DECIDED_ON_HOME = 20

STATUS_LABELS = {
    "en_attente": "en attente",
    "signe": "signé",
    "refuse": "refusé",
    "expire": "expiré",
    "annule": "annulé",
}


@dataclass(frozen=True)
class ActReading:
    """An act as its page shows it. ``page_count`` is ``None`` when PDFium
    cannot draw the document (pyHanko could open it, so it can still be
    signed; the person reads the download instead)."""

    state: ActState
    page_count: int | None
    shown_pages: int

    @property
    def pending(self) -> bool:
        return self.state.status == STATUS_PENDING


def read_act(
    runtime: Runtime, signed_in: SignedIn, ref: str, *, now: datetime
) -> ActReading:
    """The person's own act; its pages are counted only while it waits, as
    only then are they drawn."""
    with runtime.db.sessions() as session:
        state = get_act_for_person(session, signed_in.person_id, ref, now)
        if state.status != STATUS_PENDING:
            return ActReading(state, None, 0)
        count = _page_count(session, state)
    shown = min(count or 0, runtime.settings.web_preview_max_pages)
    return ActReading(state, count, shown)


def record_consultation(
    runtime: Runtime,
    signed_in: SignedIn,
    reading: ActReading,
    *,
    address: str | None,
    now: datetime,
) -> None:
    """The person opened the act's page (``acte.consulte``): what they were
    shown, by its SHA-256 and its page count when the pages could be drawn.
    Reading changes nothing, so the entry takes a transaction of its own."""
    act = reading.state.act
    consultations.record_consultation(
        runtime,
        signed_in,
        actions.ACTE_CONSULTE,
        consultations.Consulted(
            kind="acte",
            ref=act.ref,
            code_09=act.code_09,
            client_id=act.client_id,
            sha256_shown=act.sha256_source,
            page_count=reading.page_count,
            status=reading.state.status,
        ),
        address=address,
        now=now,
    )


def act_page_png(
    runtime: Runtime, signed_in: SignedIn, ref: str, number: int, *, now: datetime
) -> bytes:
    """Page ``number`` (from 1) of the act's document, within the rendering
    cap, for the person the act is addressed to."""
    with runtime.db.sessions() as session:
        act = get_act_for_person(session, signed_in.person_id, ref, now).act

    def load() -> bytes:
        with runtime.db.sessions() as session:
            return act_document(session, act)

    return preview.shown_page_png(
        act.sha256_source,
        number,
        dpi=runtime.settings.web_preview_dpi,
        max_pages=runtime.settings.web_preview_max_pages,
        load=load,
    )


def act_pdf(runtime: Runtime, signed_in: SignedIn, ref: str, *, now: datetime) -> bytes:
    """The exact bytes the person is asked to sign (or was)."""
    with runtime.db.sessions() as session:
        state = get_act_for_person(session, signed_in.person_id, ref, now)
        return act_document(session, state.act)


def waiting_acts(
    session: Session, signed_in: SignedIn, *, now: datetime
) -> list[ActState]:
    return list_waiting_for_person(session, signed_in.person_id, now)


def decided_acts(
    session: Session, signed_in: SignedIn, *, now: datetime
) -> list[ActState]:
    """The latest acts that no longer wait (signed, refused, expired,
    cancelled), newest first."""
    # The listing mixes waiting acts in: read enough of it that only a person
    # with scores of acts waiting would see fewer decided ones.
    found = list_for_person(
        session, signed_in.person_id, limit=DECIDED_ON_HOME * 5, now=now
    )
    return [state for state in found if state.status != STATUS_PENDING][
        :DECIDED_ON_HOME
    ]


def _page_count(session: Session, state: ActState) -> int | None:
    return preview.shown_page_count(
        state.act.sha256_source, lambda: act_document(session, state.act)
    )
