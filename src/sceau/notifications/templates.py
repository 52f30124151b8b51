"""French e-mail notices, rendered from templates: a text part and an HTML part."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sceau.events import types

TEMPLATES_DIR = Path(__file__).parent / "templates"

_TEMPLATE_OF = {
    types.INCIDENT_OUVERT: "incident",
    types.INCIDENT_MIS_A_JOUR: "incident",
    types.INCIDENT_CLOS: "incident",
    types.WEBHOOK_DESACTIVE: "webhook_desactive",
    types.PERSONNE_INVITEE: "personne_invitee",
    types.PERSONNE_VERROUILLEE: "personne_verrouillee",
    types.PERSONNE_ACTE_A_SIGNER: "personne_acte_a_signer",
    types.PERSONNE_ACTE_RAPPEL: "personne_acte_rappel",
    types.PERSONNE_ACTE_ANNULE: "personne_acte_annule",
    types.MATRICE_REVUE_PROCHE: "matrice_revue_proche",
    types.INTEGRATION_ETAPE: "integration_etape",
    types.PERSONNE_DELEGATION_A_SIGNER: "personne_delegation_a_signer",
    types.PERSONNE_DELEGATION_REFUS: "personne_delegation_refus",
}

_SUBJECTS = {
    types.INCIDENT_OUVERT: "[Pixel Sceau] Incident {incident} : {titre}",
    types.INCIDENT_MIS_A_JOUR: "[Pixel Sceau] Mise à jour de l'incident {incident}",
    types.INCIDENT_CLOS: "[Pixel Sceau] Incident {incident} clos",
    types.WEBHOOK_DESACTIVE: "[Pixel Sceau] Webhook désactivé : {url}",
    types.PERSONNE_INVITEE: "[Pixel Sceau] Activez votre compte de signature",
    types.PERSONNE_VERROUILLEE: "[Pixel Sceau] Votre compte est verrouillé",
    types.PERSONNE_ACTE_A_SIGNER: "[Pixel Sceau] Un document attend votre signature",
    types.PERSONNE_ACTE_RAPPEL: "[Pixel Sceau] Rappel : un document attend votre "
    "signature",
    types.PERSONNE_ACTE_ANNULE: "[Pixel Sceau] Demande de signature annulée",
    types.MATRICE_REVUE_PROCHE: "[Pixel Sceau] Revue de votre matrice d'autorité "
    "avant le {revue_le}",
    types.INTEGRATION_ETAPE: "[Pixel Sceau] Votre intégration passe à l'étape "
    "« {vers} »",
    types.PERSONNE_DELEGATION_A_SIGNER: "[Pixel Sceau] Une délégation de signature "
    "attend votre accord",
    types.PERSONNE_DELEGATION_REFUS: "[Pixel Sceau] Une signature en votre nom a "
    "été refusée",
}


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_notice(
    *,
    event_type: str,
    event_id: str,
    timestamp: str,
    data: dict[str, Any],
    client_name: str,
) -> RenderedNotice:
    name = _TEMPLATE_OF.get(event_type, "generique")
    subject_format = _SUBJECTS.get(event_type)
    description = types.DESCRIPTIONS.get(event_type, event_type)
    try:
        subject = (
            subject_format.format(**data)
            if subject_format
            else f"[Pixel Sceau] {description[:1].upper()}{description[1:]}"
        )
    except (KeyError, IndexError):
        subject = f"[Pixel Sceau] {event_type}"
    # One line, however the data reads: a header cannot hold a line break.
    subject = " ".join(subject.split())[:200]
    context = {
        "type": event_type,
        "event_id": event_id,
        "timestamp": timestamp,
        "data": _Data(data),
        "client_name": client_name,
        "description": description,
        "subject": subject,
    }
    environment = _environment()
    return RenderedNotice(
        subject=subject,
        text=environment.get_template(f"{name}.txt").render(context),
        html=environment.get_template(f"{name}.html").render(context),
    )


class _Data(dict[str, Any]):
    """Event data in a template: a missing field reads as empty, not an error,
    since an event's data may grow or shrink between versions."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name, "")
