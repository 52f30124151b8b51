"""What a client sees through the API: each successful signature metered
once (never a refused one, never a replay), its usage by month, and its own
invoices only, as JSON and as the signed PDF."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from sceau.audit.actors import Actor
from sceau.billing.invoices import close_month
from sceau.billing.models import UsageRecord
from sceau.billing.months import month_of
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.billing.conftest import metered
from tests.conftest import Provisioned, provision, sign_body

SIGN = "/api/v1/sceau/b2b/signer"
USAGE = "/api/v1/sceau/b2b/consommation"
INVOICES = "/api/v1/sceau/b2b/factures"


def usage_rows(runtime: Runtime) -> list[UsageRecord]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(UsageRecord)))


def test_a_signature_is_metered_once_even_when_replayed(
    api: TestClient, runtime: Runtime, atlanta: Provisioned, pdf: bytes
) -> None:
    headers = {
        **atlanta.headers,
        "Idempotency-Key": "attestation-2026-04231",
        "Content-Type": "application/json",
    }
    raw = json.dumps(sign_body(atlanta, pdf)).encode()
    before = utcnow()

    first = api.post(SIGN, headers=headers, content=raw)
    replay = api.post(SIGN, headers=headers, content=raw)

    after = utcnow()
    assert first.status_code == 200, first.text
    assert replay.headers["idempotent-replayed"] == "true"
    (row,) = usage_rows(runtime)
    # Signing reads the real clock; the month is the signature's own, read
    # from it, so that a month ending mid-test changes nothing.
    assert before <= row.signed_at <= after
    month = month_of(row.signed_at)
    assert (row.signature_ref, row.client_id, row.mode, row.plan, row.month) == (
        first.json()["ref_signature"],
        atlanta.client_id,
        "systeme",
        "pay_as_you_go",
        month,
    )

    # The usage read as of the signature: its month is the current one.
    api.app.state.api_clock = lambda: row.signed_at  # type: ignore[attr-defined]
    usage = api.get(USAGE, headers=atlanta.headers)
    assert usage.status_code == 200, usage.text
    months = usage.json()["mois"]
    assert len(months) == 12
    assert months[-1] == {
        "mois": month,
        "formule": "pay_as_you_go",
        "signatures": 1,
        "par_mode": {"systeme": 1},
    }
    assert all(m["signatures"] == 0 for m in months[:-1])
    too_far = api.get(USAGE, headers=atlanta.headers, params={"mois": 37})
    assert too_far.status_code == 400
    assert too_far.json()["erreur"]["code"] == "parametre_invalide"


def test_a_refused_signature_is_never_metered(
    api: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    not_a_pdf = b"Ceci est un fichier texte, pas un PDF.\n" * 10

    response = api.post(
        SIGN, headers=atlanta.headers, json=sign_body(atlanta, not_a_pdf)
    )

    assert response.status_code == 422, response.text
    assert response.json()["erreur"]["code"] == "pdf_invalide"
    assert usage_rows(runtime) == []


def test_a_client_never_sees_another_clients_invoice(
    api: TestClient, runtime: Runtime, atlanta: Provisioned
) -> None:
    sahel = provision(
        runtime, name="Sahel Assurances", body="SAHELSYS", algorithm="ecdsa-p256"
    )
    november = datetime(2026, 11, 5, tzinfo=UTC)
    metered(runtime, atlanta, 3, november)
    metered(runtime, sahel, 1, november)
    issued = close_month(
        runtime, "2026-11", now=datetime(2026, 12, 1, tzinfo=UTC), by=Actor.operator()
    )
    own = next(i for i in issued if i.client_id == atlanta.client_id)
    other = next(i for i in issued if i.client_id == sahel.client_id)

    listed = api.get(INVOICES, headers=atlanta.headers)
    assert listed.status_code == 200, listed.text
    assert [f["numero"] for f in listed.json()["factures"]] == [own.number]
    assert listed.json()["factures"][0]["total_xof"] == 450

    shown = api.get(f"{INVOICES}/{own.number}", headers=atlanta.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["lignes"][0]["quantite"] == 3
    document = api.get(f"{INVOICES}/{own.number}/pdf", headers=atlanta.headers)
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    assert document.content == own.pdf

    for path in (f"{INVOICES}/{other.number}", f"{INVOICES}/{other.number}/pdf"):
        refused = api.get(path, headers=atlanta.headers)
        assert refused.status_code == 404, refused.text
        assert refused.json()["erreur"]["code"] == "facture_introuvable"
    assert api.get(INVOICES).status_code == 401
