"""Monthly invoices: priced lines, numbers without gaps even when closes
run at once, nothing new on a second close, credit notes as the only
correction, and a PDF that pdfsig finds signed by Pixel Sceau."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sceau.audit.actors import Actor
from sceau.billing.errors import (
    CreditExceedsInvoice,
    InvalidCreditNote,
    InvalidMonth,
    InvoiceNotFound,
    MonthNotOver,
)
from sceau.billing.invoices import (
    close_month,
    get_invoice,
    invoice_json,
    issue_credit_note,
    list_invoices,
)
from sceau.billing.models import Invoice, UsageRecord
from sceau.billing.months import month_end, month_start
from sceau.billing.service import UNBILLED_CLIENTS
from sceau.documents.sealing import SERVICE_CLIENT_ID
from sceau.events.worker import standard_chores
from sceau.lifecycle.service import transition
from sceau.runtime import Runtime
from sceau.sla.recorder import record_heartbeat
from tests.billing.conftest import client_on, metered
from tests.support.validators import nss_db, pdfsig, pdfsig_signatures

NOVEMBER = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
CLOSED_AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def watched_from(runtime: Runtime, moment: datetime) -> None:
    """The service's first heartbeat, healthy, at ``moment``, and none after:
    from then on every minute without one counts as down."""
    with runtime.db.transaction() as session:
        record_heartbeat(session, moment, healthy=True)


def test_a_forfait_month_is_invoiced_with_overage_sla_credit_and_signature(
    runtime: Runtime, tmp_path: Path
) -> None:
    client = client_on(runtime, "Cabinet Yao", "forfait")
    metered(runtime, client, 450, NOVEMBER)
    metered(runtime, client, 51, NOVEMBER, mode="humaine")
    watched_from(runtime, datetime(2026, 10, 31, 23, 59, tzinfo=UTC))

    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())

    data = invoice_json(invoice)
    assert data["numero"] == "FAC-2026-000001"
    assert (data["type"], data["mois"], data["formule"]) == (
        "facture",
        "2026-11",
        "forfait",
    )
    assert [
        (line["nature"], line["mode"], line["quantite"], line["montant_xof"])
        for line in data["lignes"]
    ] == [
        ("abonnement", None, 1, 25_000),
        ("signatures", "humaine", 51, 0),
        ("signatures", "systeme", 450, 0),
        ("depassement", None, 1, 100),
        # The service was watched from 31 October, and no heartbeat came in
        # November: availability 0 % against the forfait's 99.5 %, a 10 %
        # credit (sceau.sla, the default grid).
        ("credit_sla", None, 1, -2_510),
    ]
    assert (data["sous_total_xof"], data["credits_sla_xof"], data["total_xof"]) == (
        25_100,
        -2_510,
        22_590,
    )

    assert invoice.pdf is not None
    path = tmp_path / "facture.pdf"
    path.write_bytes(invoice.pdf)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    (block,) = pdfsig_signatures(output)
    assert "Signature is Valid." in output
    assert "Certificate is Trusted." in output
    assert block["Signer Certificate Common Name"].startswith("Pixel Sceau")
    assert data["ref_signature_pdf"] == invoice.signature_ref


def test_closing_twice_issues_nothing_new_and_numbers_follow(
    runtime: Runtime,
) -> None:
    first = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    second = client_on(runtime, "Etude Bamba", "forfait")
    metered(runtime, first, 2, NOVEMBER)

    issued = close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())
    again = close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())

    # The forfait owes its fee without a signature; nothing was measured
    # (no heartbeat ever), so no SLA credit either.
    assert sorted((i.client_id, i.total_xof) for i in issued) == sorted(
        [(first.client_id, 300), (second.client_id, 25_000)]
    )
    assert sorted(i.number for i in issued) == ["FAC-2026-000001", "FAC-2026-000002"]
    assert again == []
    with runtime.db.sessions() as session:
        assert len(list_invoices(session)) == 2


def test_a_month_is_closed_only_once_over(runtime: Runtime) -> None:
    with pytest.raises(MonthNotOver) as refused:
        close_month(
            runtime,
            "2026-11",
            now=datetime(2026, 11, 30, 23, 59, tzinfo=UTC),
            by=Actor.operator(),
        )

    assert refused.value.code == "mois_non_termine"


def test_pixel_sceaus_own_documents_are_never_billed(runtime: Runtime) -> None:
    client = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    metered(runtime, client, 1, NOVEMBER)

    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())

    # Signing the invoice made a signature of the service's own client.
    assert {SERVICE_CLIENT_ID} == UNBILLED_CLIENTS
    assert invoice.client_id == client.client_id
    with runtime.db.sessions() as session:
        clients = set(session.scalars(select(UsageRecord.client_id)))
    assert clients == {client.client_id}


def test_a_correction_is_a_credit_note_and_the_invoice_stays(
    runtime: Runtime, tmp_path: Path
) -> None:
    client = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    metered(runtime, client, 10, NOVEMBER)
    (invoice,) = close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())

    note = issue_credit_note(
        runtime,
        invoice.number,
        600,
        "quatre signatures de test facturées à tort",
        actor="operateur:awa",
        now=CLOSED_AT,
        by=Actor.operator(),
    )

    assert note.number == "AV-2026-000001"
    assert (note.kind, note.corrects, note.total_xof) == (
        "avoir",
        invoice.number,
        -600,
    )
    data = invoice_json(note)
    assert data["facture_corrigee"] == invoice.number
    assert data["lignes"][0]["montant_xof"] == -600
    with runtime.db.sessions() as session:
        kept = get_invoice(session, invoice.number)
    assert (kept.total_xof, kept.lines, kept.pdf) == (
        1_500,
        invoice.lines,
        invoice.pdf,
    )

    with pytest.raises(CreditExceedsInvoice):
        issue_credit_note(
            runtime, invoice.number, 901, "trop", now=CLOSED_AT, by=Actor.operator()
        )
    with pytest.raises(InvalidCreditNote):
        issue_credit_note(
            runtime,
            note.number,
            1,
            "un avoir d'avoir",
            now=CLOSED_AT,
            by=Actor.operator(),
        )
    with pytest.raises(InvalidCreditNote):
        issue_credit_note(
            runtime, invoice.number, 0, "rien", now=CLOSED_AT, by=Actor.operator()
        )
    with pytest.raises(InvoiceNotFound):
        issue_credit_note(
            runtime,
            "FAC-2026-999999",
            1,
            "inconnue",
            now=CLOSED_AT,
            by=Actor.operator(),
        )
    issue_credit_note(
        runtime, invoice.number, 900, "le reste", now=CLOSED_AT, by=Actor.operator()
    )

    assert note.pdf is not None
    path = tmp_path / "avoir.pdf"
    path.write_bytes(note.pdf)
    output = pdfsig(path, nss_db(tmp_path, runtime.pki.root_pem().encode()))
    assert "Signature is Valid." in output


def test_concurrent_closes_never_share_or_skip_a_number(runtime: Runtime) -> None:
    clients = [
        client_on(runtime, name, "pay_as_you_go")
        for name in ("Cabinet Yao", "Etude Bamba", "Assurances Sahel")
    ]
    for client in clients:
        metered(runtime, client, 1, datetime(2026, 9, 10, tzinfo=UTC))
        metered(runtime, client, 1, datetime(2026, 10, 10, tzinfo=UTC))
    months = ["2026-09", "2026-10", "2026-10", "2026-09", "2026-09", "2026-10"]

    with ThreadPoolExecutor(len(months)) as pool:
        issued = list(
            pool.map(
                lambda month: close_month(
                    runtime, month, now=CLOSED_AT, by=Actor.operator()
                ),
                months,
            )
        )

    numbers = sorted(invoice.number for batch in issued for invoice in batch)
    assert numbers == [f"FAC-2026-{n:06d}" for n in range(1, 7)]
    with runtime.db.sessions() as session:
        per_month = dict(
            session.execute(
                select(Invoice.month, func.count()).group_by(Invoice.month)
            ).all()
        )
        unsigned = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.pdf.is_(None))
        )
    assert per_month == {"2026-09": 3, "2026-10": 3}
    assert unsigned == 0
    assert all(json.loads(i.lines) for batch in issued for i in batch)


@pytest.mark.parametrize("month", ["0000-01", "0000-12", "9999-12"])
def test_a_month_outside_the_calendar_is_refused_with_its_code(
    runtime: Runtime, month: str
) -> None:
    with pytest.raises(InvalidMonth) as refused:
        close_month(runtime, month, now=CLOSED_AT, by=Actor.operator())

    assert (refused.value.code, refused.value.status) == ("mois_invalide", 422)
    assert "entre 0001-01 et 9999-11" in refused.value.message


def test_the_calendars_last_month_ends_and_its_first_begins() -> None:
    assert month_end("9999-11") == datetime(9999, 12, 1, tzinfo=UTC)
    assert month_start("0001-01") == datetime(1, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidMonth) as refused:
        month_start("2026-13")
    assert "AAAA-MM" in refused.value.message


def test_a_fee_is_owed_only_for_a_month_the_client_could_sign_in(
    runtime: Runtime,
) -> None:
    waiting = client_on(runtime, "Cabinet Yao", "forfait", state="provisionne")
    piloting = client_on(runtime, "Etude Bamba", "forfait", state="provisionne")
    officer = client_on(runtime, "Assurances Sahel", "forfait", state="provisionne")
    with runtime.db.transaction() as session:
        transition(
            session,
            piloting.client_id,
            "pilote",
            actor="operateur:awa",
            settings=runtime.settings,
            now=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
            by=Actor.operator(),
        )
    # Before its pilot, an officer signed a delegation for the client.
    metered(runtime, officer, 2, NOVEMBER, mode="humaine")

    issued = {
        i.client_id: i
        for i in close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator())
    }

    assert waiting.client_id not in issued
    # Ten days of pilot owe the whole fee: no pro rata.
    assert [
        (line["nature"], line["montant_xof"])
        for line in json.loads(issued[piloting.client_id].lines)
    ] == [("abonnement", 25_000)]
    assert issued[piloting.client_id].total_xof == 25_000
    # The delegation's signatures, at the unit price, without the fee.
    assert [
        (line["nature"], line["quantite"], line["montant_xof"])
        for line in json.loads(issued[officer.client_id].lines)
    ] == [("signatures", 2, 200)]
    assert issued[officer.client_id].total_xof == 200


class FlakyTsa(ThreadingHTTPServer):
    """The service's own time-stamping authority over HTTP, which answers
    ``503`` to its first ``failures`` requests, as an authority that is down
    for a moment."""

    def __init__(self, runtime: Runtime, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), _FlakyTsaHandler)
        self.runtime = runtime
        self.failures = failures
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/tsa"


class _FlakyTsaHandler(BaseHTTPRequestHandler):
    server: FlakyTsa

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            down = self.server.failures > 0
            self.server.failures -= 1 if down else 0
        if down:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        reply = self.server.runtime.tsa.respond(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tsa_down_once(runtime: Runtime) -> Iterator[Runtime]:
    """A runtime on the same database and PKI that time-stamps through an
    external authority whose first request fails."""
    server = FlakyTsa(runtime, failures=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    flaky = Runtime(runtime.settings.model_copy(update={"tsa_urls": [server.url]}))
    yield flaky
    flaky.close()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_an_invoice_that_cannot_be_signed_waits_for_the_worker(
    runtime: Runtime, tsa_down_once: Runtime
) -> None:
    clients = [
        client_on(runtime, name, "pay_as_you_go")
        for name in ("Cabinet Yao", "Etude Bamba", "Assurances Sahel")
    ]
    for client in clients:
        metered(runtime, client, 1, NOVEMBER)

    issued = close_month(tsa_down_once, "2026-11", now=CLOSED_AT, by=Actor.operator())

    # The first signed hit the authority while it was down: that invoice is
    # issued, numbered, its PDF pending; the close went on with the others.
    assert sorted(i.number for i in issued) == [
        f"FAC-2026-{n:06d}" for n in range(1, 4)
    ]
    (pending,) = [i for i in issued if i.pdf is None]
    assert all(i.pdf is not None for i in issued if i is not pending)
    assert pending.total_xof == 150

    chores = {c.name: c for c in standard_chores(runtime.db, runtime.settings)}
    assert chores["billing.invoice_pdfs"].every_seconds <= 600
    assert chores["billing.invoice_pdfs"].run() == 1
    assert chores["billing.invoice_pdfs"].run() == 0

    with runtime.db.sessions() as session:
        completed = get_invoice(session, pending.number)
    assert completed.pdf is not None and completed.pdf.startswith(b"%PDF-")
    assert completed.signature_ref is not None
    assert (completed.lines, completed.total_xof) == (pending.lines, 150)
    assert close_month(runtime, "2026-11", now=CLOSED_AT, by=Actor.operator()) == []
