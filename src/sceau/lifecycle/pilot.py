"""What a client in pilot signs under: a marker in every signature's reason,
so that a pilot document can never pass for a production one, and a daily
cap on its signatures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sceau.clients.models import Client
from sceau.lifecycle.agreement import agreement_of
from sceau.lifecycle.errors import PilotCapReached
from sceau.lifecycle.models import PILOT
from sceau.settings import Settings
from sceau.signing.models import SignatureRecord


@dataclass(frozen=True)
class PilotTerms:
    marker: str
    daily_cap: int


def pilot_terms(
    session: Session, settings: Settings, client_id: str
) -> PilotTerms | None:
    """The terms a client signs under now, or None outside the pilot."""
    client = session.get(Client, client_id)
    if client is None or client.state != PILOT:
        return None
    agreement = agreement_of(client) or {}
    cap = agreement.get("plafond_pilote") or settings.pilot_daily_cap
    return PilotTerms(marker=settings.pilot_reason_marker, daily_cap=cap)


def marked_reason(reason: str, terms: PilotTerms) -> str:
    """The reason as signed: the marker first, where every reader sees it."""
    return f"{terms.marker} — {reason}"


def check_pilot_cap(
    session: Session,
    client_id: str,
    terms: PilotTerms,
    now: datetime,
    *,
    lock: bool,
) -> None:
    """Refuse the signature that would pass the day's cap. Before signing it
    spares the work; in the storing transaction (``lock``) it decides: the
    client's row is locked so that concurrent requests count one after the
    other (NO KEY UPDATE, since the signature's own foreign key share-locks
    the same row)."""
    if lock:
        session.execute(
            select(Client.id)
            .where(Client.id == client_id)
            .with_for_update(key_share=True)
        )
    day_start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    signed_today = session.scalar(
        select(func.count())
        .select_from(SignatureRecord)
        .where(
            SignatureRecord.client_id == client_id,
            SignatureRecord.signed_at >= day_start,
        )
    )
    if (signed_today or 0) >= terms.daily_cap:
        retry_after = (day_start + timedelta(days=1) - now).total_seconds()
        raise PilotCapReached(
            f"Le plafond journalier de la phase pilote ({terms.daily_cap} "
            "signatures) est atteint ; les signatures reprennent à minuit UTC, "
            "ou dès le passage en production.",
            retry_after=max(1, int(retry_after)),
        )
