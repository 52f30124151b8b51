"""A client's contact e-mail and agreed incident channel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sceau.clients.errors import ClientNotFound
from sceau.errors import Unprocessable
from sceau.notifications.models import INCIDENT_CHANNELS, ClientContact


class InvalidContact(Unprocessable):
    code = "contact_invalide"
    message = "Adresse de contact ou canal invalide."


def get_contact(session: Session, client_id: str) -> ClientContact:
    contact = session.get(ClientContact, client_id)
    if contact is None:
        raise ClientNotFound()
    return contact


def set_contact(
    session: Session,
    client_id: str,
    *,
    email: str | None = None,
    channel: str | None = None,
) -> ClientContact:
    contact = get_contact(session, client_id)
    if email is not None:
        email = email.strip()
        local, _, domain = email.rpartition("@")
        if not local or "." not in domain or any(c.isspace() for c in email):
            raise InvalidContact(f"Adresse e-mail invalide : {email!r}.")
        contact.contact_email = email
    if channel is not None:
        if channel not in INCIDENT_CHANNELS:
            raise InvalidContact(
                f"Canal inconnu : {channel} ; valeurs admises : "
                f"{', '.join(INCIDENT_CHANNELS)}."
            )
        contact.incident_channel = channel
    session.flush()
    return contact
