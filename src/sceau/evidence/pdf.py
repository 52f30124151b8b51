"""The evidence file as a French A4 PDF: the story in order, each line beside
the audit entries that back it (``JRN-<seq>`` and the start of their hash).

The PDF is rendered from the story's JSON alone, so that what it says and
what the JSON says cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sceau.documents.layout import FrenchPdf
from sceau.documents.sealing import SERVICE_CODE_09, SERVICE_LABEL
from sceau.evidence.story import DIFFUSION_PUBLIC, HASH_PREFIX, KIND_ACT, Story

Rows = list[tuple[str, str]]

_ACTOR_KINDS = {
    "client": "système du client",
    "personne": "personne",
    "utilisateur_console": "utilisateur de la console",
    "operateur": "opérateur",
    "service": "Pixel Sceau",
}
_ANCHOR_STATES = {
    "confirme": "confirmé",
    "soumis": "soumis aux calendriers OpenTimestamps",
    "en_attente": "en attente",
    "non_ancre": "non ancré",
}


def when(value: str | None) -> str:
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        # A time an older entry wrote otherwise: shown as it was kept.
        return value
    return moment.strftime("%d/%m/%Y à %H:%M:%S UTC")


def backed(text: str, refs: list[dict[str, str]] | dict[str, str] | None) -> str:
    """``text`` followed by the entries that back it: ``[JRN-4 · 1f2e…]``."""
    if not refs:
        return text
    listed = [refs] if isinstance(refs, dict) else refs
    cited = ", ".join(
        f"{ref['reference']} · {ref['empreinte'][:HASH_PREFIX]}" for ref in listed
    )
    return f"{text} [{cited}]"


def _or_dash(value: object) -> str:
    return "—" if value is None or value == "" else str(value)


def render_evidence_pdf(
    story: Story, *, evidence_id: str, issued_at: datetime
) -> bytes:
    content = story.content
    subject = "l'acte" if story.kind == KIND_ACT else "la signature"
    title = f"Dossier de preuve — {story.subject}"
    document = FrenchPdf(
        title=title,
        footer=f"Pixel Sceau — {title} — {evidence_id}",
        created_at=issued_at,
    )
    document.title(title)
    client = content["client"]
    document.facts(
        [
            ("Objet", f"Histoire de {subject} {story.subject}, dans l'ordre"),
            ("Client", f"{_or_dash(client['nom'])} ({client['id']})"),
            ("Dossier", evidence_id),
            ("Établi le", issued_at.strftime("%d/%m/%Y à %H:%M UTC")),
            ("Empreinte du contenu", story.content_sha256),
            ("Format", content["format"]),
        ]
    )
    if story.diffusion == DIFFUSION_PUBLIC:
        document.paragraph(
            "Version publique, remise au détenteur du document signé : les "
            "adresses IP y sont réduites à leur réseau et les références de "
            "session omises. Le client et la personne signataire disposent de "
            "la version complète."
        )

    sections = [("La demande", _request_rows(content["demande"]))]
    if content["acte"] is not None:
        sections.append(("L'acte", _act_rows(content["acte"])))
    sections.append(("Le document signé", _signature_rows(content["signature"])))
    if content["personne"] is not None:
        sections.append(("La personne", _person_rows(content["personne"])))
    if content["delegation"] is not None:
        sections.append(("La délégation", _delegation_rows(content["delegation"])))
    sections.append(("L'horodatage", _timestamp_rows(content["horodatage"])))
    sections.append(("L'ancrage Bitcoin", _anchoring_rows(content["ancrage"])))
    for number, (heading, rows) in enumerate(sections, start=1):
        document.heading(f"{number}. {heading}")
        document.facts(rows)
    document.heading(f"{len(sections) + 1}. La chronologie (journal d'audit)")
    steps = content["etapes"]
    if steps:
        document.facts([_step_row(step) for step in steps])
    else:
        document.paragraph(
            f"Aucune entrée du journal d'audit ne porte sur {subject} "
            f"{story.subject} (antérieure au journal)."
        )

    document.note(
        "Chaque ligne suivie d'une référence [JRN-n · empreinte] est appuyée par "
        "l'entrée n du journal d'audit de Pixel Sceau, dont l'empreinte SHA-256 "
        "commence ainsi ; le journal est chaîné et ancré, de sorte qu'une entrée "
        "ne peut être modifiée sans que cela se voie. Le même contenu est "
        "disponible en JSON ; son empreinte est celle indiquée en tête. Ce "
        f"document est signé électroniquement par {SERVICE_LABEL} "
        f"({SERVICE_CODE_09}) ; sa signature peut être vérifiée par tout lecteur "
        "PDF ou sur la page publique de vérification de Pixel Sceau."
    )
    return document.output()


def _request_rows(request: dict[str, Any]) -> Rows:
    kind = _ACTOR_KINDS.get(request["acteur"] or "", request["acteur"] or "client")
    rows: Rows = [
        ("Demandé par", backed(f"{request['client']} ({kind})", request["journal"])),
        ("Le", when(request["le"])),
        ("Identité", _or_dash(request["identite"])),
        ("Clé API", _or_dash(request["cle_api"])),
        (
            "Niveau d'authentification",
            _or_dash(request["niveau_authentification"] or "non journalisé"),
        ),
    ]
    if request["cle_hmac"]:
        rows.append(("Secret HMAC", request["cle_hmac"]))
    if request["empreinte_certificat"]:
        rows.append(("Certificat client", request["empreinte_certificat"]))
    if request["adresse"]:
        rows.append(("Adresse", request["adresse"]))
    return rows


def _act_rows(act: dict[str, Any]) -> Rows:
    rows: Rows = [
        ("Acte", backed(act["reference"], act["journal"])),
        ("Statut", act["statut"]),
        ("Adressé à", f"{act['signataire']} ({act['code_09']})"),
        ("Motif", act["motif"]),
        ("SHA-256 du document à signer", act["sha256_source"]),
        ("Préparé le", when(act["cree_le"])),
        ("À signer avant le", when(act["expire_le"])),
    ]
    if act["decide_le"]:
        rows.append(("Décidé le", when(act["decide_le"])))
    if act["motif_refus"]:
        rows.append(("Motif du refus", act["motif_refus"]))
    return rows


def _signature_rows(signature: dict[str, Any] | None) -> Rows:
    if signature is None:
        return [("Signature", "pas encore apposée")]
    refs = signature["journal"]
    signer = signature["signataire"]
    rows: Rows = [
        ("Signature", backed(signature["reference"], refs)),
        ("Signataire", f"{signer['nom']} ({signer['code_09']})"),
        ("Mode", signature["mode"]),
        ("Niveau PAdES", signature["niveau_pades"]),
        ("Motif", signature["motif"]),
        ("SHA-256 avant signature", backed(signature["sha256_source"], refs)),
        ("SHA-256 après signature", backed(signature["sha256_signe"], refs)),
        (
            "Tailles",
            f"{signature['taille_source']} octets avant, "
            f"{signature['taille_signe']} octets après",
        ),
        ("Signé le", when(signature["signe_le"])),
    ]
    if signature["type_acte"]:
        rows.append(("Type d'acte", signature["type_acte"]))
    if signature["montant"] is not None:
        rows.append(("Montant", str(signature["montant"])))
    return rows


def _person_rows(person: dict[str, Any]) -> Rows:
    rows: Rows = [("Personne", f"{person['nom']} ({person['code_09']})")]
    for login in person["connexions"]:
        method = login["methode"] or "non précisée"
        if method == "mot_de_passe+totp":
            method = "mot de passe et code TOTP"
        rows.append(
            (
                "Connexion",
                backed(
                    f"{when(login['le'])}, {method}, depuis "
                    f"{_or_dash(login['adresse'])}",
                    login["journal"],
                ),
            )
        )
    for view in person["consultations"]:
        rows.append(
            (
                "Document affiché",
                backed(
                    f"{when(view['le'])}, depuis {_or_dash(view['adresse'])} ; "
                    f"SHA-256 affiché {_or_dash(view['sha256_affiche'])}",
                    view["journal"],
                ),
            )
        )
    decision = person["decision"]
    if decision is None:
        rows.append(("Décision", "aucune à ce jour"))
        return rows
    label = "Refus" if decision["action"] == "acte.refuse" else "Signature"
    rows.append(
        (
            label,
            backed(
                f"{when(decision['le'])}, depuis {_or_dash(decision['adresse'])} ; "
                f"authentification : {_or_dash(decision['authentification'])}",
                decision["journal"],
            ),
        )
    )
    if decision["totp_verifie_le"]:
        rows.append(("Code TOTP vérifié le", when(decision["totp_verifie_le"])))
    if decision["connecte_le"]:
        rows.append(("Session ouverte le", when(decision["connecte_le"])))
    if decision["sha256_affiche"]:
        rows.append(("SHA-256 du document affiché", decision["sha256_affiche"]))
    return rows


def _delegation_rows(delegation: dict[str, Any]) -> Rows:
    rows: Rows = [
        ("Délégation", backed(delegation["reference"], delegation["journal"])),
        ("Statut", delegation["statut"]),
        ("Personne", delegation["code_09"]),
        ("Signée le", when(delegation["signee_le"])),
        ("Signature de la délégation", _or_dash(delegation["ref_signature"])),
        ("SHA-256 du document signé", delegation["sha256_document"]),
    ]
    rows.extend(("Enveloppe", line) for line in delegation["enveloppe_texte"])
    signing = delegation.get("signature_personne")
    if signing is not None:
        rows.append(
            (
                "Délégation signée",
                backed(
                    f"{when(signing['le'])}, depuis {_or_dash(signing['adresse'])} ; "
                    f"authentification : {_or_dash(signing['authentification'])}",
                    signing["journal"],
                ),
            )
        )
        if signing["totp_verifie_le"]:
            rows.append(("Code TOTP vérifié le", when(signing["totp_verifie_le"])))
        if signing["connecte_le"]:
            rows.append(("Session ouverte le", when(signing["connecte_le"])))
    return rows


def _timestamp_rows(timestamp: dict[str, Any]) -> Rows:
    if timestamp["heure"] is None:
        return [("Heure de l'horodatage", _or_dash(timestamp["explication"]))]
    return [
        ("Heure de l'horodatage (TSA)", when(timestamp["heure"])),
        ("Autorité", _or_dash(timestamp["autorite"])),
        ("Source", timestamp["source"]),
    ]


def _anchoring_rows(anchoring: dict[str, Any]) -> Rows:
    status = anchoring["statut"]
    rows: Rows = [
        ("État de l'ancrage", _ANCHOR_STATES.get(status, status)),
        ("Référence", _or_dash(anchoring["ref_horodatage"])),
    ]
    if anchoring["lot"]:
        rows.append(("Lot", anchoring["lot"]))
    block = anchoring["bloc"]
    if block is not None:
        rows.append(("Bloc Bitcoin", f"n° {block['hauteur']}"))
        rows.append(("Heure du bloc", when(block["horodatage"])))
    rows.append(("Explication", anchoring["explication"]))
    return rows


def _step_row(step: dict[str, Any]) -> tuple[str, str]:
    actor = step["acteur"]
    kind = _ACTOR_KINDS.get(actor.get("kind", ""), actor.get("kind", ""))
    who = f"{kind} {actor.get('id', '')}".strip()
    extras = []
    if actor.get("level"):
        extras.append(f"niveau {actor['level']}")
    if actor.get("key_id"):
        extras.append(f"clé {actor['key_id']}")
    if actor.get("address"):
        extras.append(f"depuis {actor['address']}")
    if extras:
        who += f" ({', '.join(extras)})"
    return (
        f"{step['ordre']}. {when(step['le'])}",
        backed(f"{step['libelle']} ({step['action']}) — par {who}", step["journal"]),
    )
