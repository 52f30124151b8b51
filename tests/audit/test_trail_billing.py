"""What the audit trail keeps of money and of a client's terms: a plan change
with its before and after, the invoices and credit notes issued, the steps
of an integration, incidents declared at the command line, and an authority
matrix published through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from fastapi.testclient import TestClient

from sceau.audit.actors import Actor
from sceau.authority.service import business_date
from sceau.billing.invoices import close_month, issue_credit_note
from sceau.billing.notices import end_free_periods
from sceau.catalogue.service import replace_catalogue
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.audit.conftest import entries_of
from tests.billing.conftest import client_on, metered
from tests.conftest import Provisioned
from tests.test_cli import cli, run_json

__all__ = ["cli"]

NOVEMBER = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
CLOSED_AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def test_a_plan_set_at_the_command_line_keeps_before_and_after(
    cli: CliRunner, runtime: Runtime
) -> None:
    client = client_on(runtime, "Banque Atlantique", "pay_as_you_go")

    change = run_json(cli, "billing", "plan", "set", client.client_id, "forfait")

    assert isinstance(change, dict)
    [entry] = entries_of(runtime, "client.formule_modifiee")
    assert entry.subject == client.client_id
    assert entry.details == {
        "avant": "pay_as_you_go",
        "apres": "forfait",
        "a_partir_de": change["a_partir_de"],
    }
    assert entry.actor["kind"] == "operateur"


def test_the_end_of_a_free_period_is_the_service_s_plan_change(
    runtime: Runtime,
) -> None:
    client = client_on(runtime, "Etude Bamba", "gratuit_notaire")
    metered(runtime, client, 1, datetime(2025, 2, 1, tzinfo=UTC))

    assert end_free_periods(runtime.db, runtime.settings, now=CLOSED_AT) == 1

    [entry] = entries_of(runtime, "client.formule_modifiee")
    assert entry.details["avant"] == "gratuit_notaire"
    assert entry.actor == {"kind": "service", "id": "pixel-sceau"}


def test_an_invoice_and_its_credit_note_are_in_the_trail(runtime: Runtime) -> None:
    client = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    metered(runtime, client, 10, NOVEMBER)

    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())
    note = issue_credit_note(
        runtime,
        invoice.number,
        600,
        "quatre signatures facturées à tort",
        by=Actor.operator(),
    )

    [issued] = entries_of(runtime, "facture.emise")
    assert issued.subject == invoice.number
    assert issued.objects == {"facture": invoice.number}
    assert issued.client_id == client.client_id
    assert issued.details == {
        "mois": "2026-11",
        "formule": "pay_as_you_go",
        "total_xof": invoice.total_xof,
        "credits_sla_xof": invoice.credits_xof,
    }
    assert invoice.total_xof == 1_500
    assert issued.at == CLOSED_AT
    # The signed PDF is attached after the invoice's own transaction, in one
    # of its own that names its signature.
    assert invoice.signature_ref is not None
    signed = [
        e
        for e in entries_of(runtime, "facture.pdf_signe")
        if e.subject == invoice.number
    ]
    assert [e.objects for e in signed] == [
        {"facture": invoice.number, "signature": invoice.signature_ref}
    ]
    assert signed[0].actor == {"kind": "service", "id": "pixel-sceau"}
    assert len(signed[0].hashes["signe"]) == 64
    assert signed[0].seq > issued.seq

    [credited] = entries_of(runtime, "avoir.emis")
    assert credited.subject == note.number
    assert credited.objects == {
        "facture": note.number,
        "facture_corrigee": invoice.number,
    }
    assert credited.details["total_xof"] == -600
    assert credited.details["motif"] == "quatre signatures facturées à tort"


def test_an_integration_step_at_the_command_line_keeps_before_and_after(
    cli: CliRunner, runtime: Runtime, atlanta: Provisioned
) -> None:
    client = run_json(cli, "client", "create", "--name", "Gamma Courtage")
    assert isinstance(client, dict)

    run_json(
        cli,
        "client",
        "state",
        "set",
        client["id"],
        "convention",
        "--actor",
        "awa",
        "--modes",
        "systeme",
        "--level",
        "A",
        "--plan",
        "forfait",
        "--channel",
        "webhook",
    )

    [step] = entries_of(runtime, "client.etat_modifie")
    assert step.subject == client["id"]
    assert (step.details["avant"], step.details["apres"]) == ("cadrage", "convention")
    assert step.actor["kind"] == "operateur"


def test_an_incident_declared_and_closed_at_the_command_line(
    cli: CliRunner, runtime: Runtime, atlanta: Provisioned
) -> None:
    opened = run_json(
        cli,
        "incident",
        "open",
        "--title",
        "Horodatage indisponible",
        "--impact",
        "Les signatures B-T échouent",
    )
    assert isinstance(opened, dict)
    run_json(cli, "incident", "close", opened["id"])

    steps = entries_of(runtime)
    opened_entry, closed_entry = (
        e for e in steps if e.action in ("incident.ouvert", "incident.clos")
    )
    assert (opened_entry.action, closed_entry.action) == (
        "incident.ouvert",
        "incident.clos",
    )
    assert opened_entry.subject == closed_entry.subject == opened["id"]
    assert opened_entry.details["titre"] == "Horodatage indisponible"
    assert "clients" not in opened_entry.details  # every client
    assert "clients" not in opened_entry.objects
    assert closed_entry.actor["kind"] == "operateur"


def test_a_matrix_published_through_the_api_names_the_key(
    runtime: Runtime, api: TestClient, atlanta: Provisioned
) -> None:
    now = utcnow()
    review = (business_date(now) + timedelta(days=300)).isoformat()
    with runtime.db.transaction() as session:
        replace_catalogue(
            session,
            atlanta.client_id,
            {"attestation": "Attestations de garantie"},
            now,
        )
    body = {
        "regles": [
            {"type_acte": "attestation", "mode": "systeme", "code_09": atlanta.code_09}
        ],
        "revue_le": review,
        "politique_revue": "avertir",
    }

    answer = api.put("/api/v1/sceau/b2b/matrice", headers=atlanta.headers, json=body)
    again = api.put("/api/v1/sceau/b2b/matrice", headers=atlanta.headers, json=body)

    assert answer.status_code == 201, answer.text
    assert again.status_code == 201
    [published] = entries_of(runtime, "matrice.publiee")  # the same one, once
    assert published.subject == atlanta.client_id
    assert published.details == {
        "version": 1,
        "regles": 1,
        "revue_le": review,
        "politique_revue": "avertir",
    }
    assert len(published.hashes["regles"]) == 64
    assert published.actor["kind"] == "client"
    assert published.actor["key_id"] == atlanta.api_key_id
