"""``sceau billing …`` as an operator types it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from sceau.billing.months import month_of, next_month
from sceau.db import utcnow
from sceau.runtime import Runtime
from tests.billing.conftest import client_on, metered
from tests.test_cli import cli, run, run_json

__all__ = ["cli"]

# A month long over whatever today is: the CLI closes against the real clock.
MONTH = "2025-03"


def test_an_operator_closes_a_month_and_corrects_an_invoice(
    cli: CliRunner, runtime: Runtime, tmp_path: Path
) -> None:
    client = client_on(runtime, "Cabinet Yao", "pay_as_you_go")
    metered(runtime, client, 3, datetime(2025, 3, 10, tzinfo=UTC))

    closed = run_json(cli, "billing", "close", "--month", MONTH)
    again = run_json(cli, "billing", "close", "--month", MONTH)

    assert isinstance(closed, list)
    (invoice,) = closed
    assert again == []
    assert (invoice["client"], invoice["total_xof"]) == (client.client_id, 450)
    number = invoice["numero"]
    assert number.startswith("FAC-")

    listed = run_json(cli, "billing", "invoices", "--client", client.client_id)
    assert [row["numero"] for row in listed] == [number]  # type: ignore[union-attr]
    pdf = tmp_path / "facture.pdf"
    shown = run_json(cli, "billing", "invoice", "show", number, "--pdf", str(pdf))
    assert shown["lignes"][0]["quantite"] == 3  # type: ignore[index]
    assert pdf.read_bytes().startswith(b"%PDF")

    note = run_json(
        cli,
        "billing",
        "credit-note",
        number,
        "--amount",
        "150",
        "--reason",
        "une signature de test",
    )
    assert note["total_xof"] == -150  # type: ignore[index]
    assert note["facture_corrigee"] == number  # type: ignore[index]
    too_much = run(
        cli, "billing", "credit-note", number, "--amount", "301", "--reason", "trop"
    )
    assert too_much.exit_code != 0
    assert "dépasser son total" in too_much.output


def test_an_operator_sets_a_plan_for_next_month_and_reads_usage(
    cli: CliRunner, runtime: Runtime
) -> None:
    client = client_on(runtime, "Banque Atlantique", "pay_as_you_go")
    before = utcnow()

    change = run_json(
        cli,
        "billing",
        "plan",
        "set",
        client.client_id,
        "enterprise",
        "--unit-price",
        "80",
        "--monthly-fee",
        "400000",
        "--included",
        "6000",
        "--actor",
        "operateur:awa",
    )
    refused = run(
        cli, "billing", "plan", "set", client.client_id, "forfait", "--included", "5"
    )
    usage = run_json(cli, "billing", "usage", client.client_id, "--months", "3")

    after = utcnow()
    assert isinstance(change, dict)
    # The CLI reads the real clock: the change takes effect the month after
    # the one it was recorded in, whichever that was.
    made = datetime.fromisoformat(change["le"])
    assert before <= made <= after
    assert change == {
        "client": client.client_id,
        "formule": "enterprise",
        "formule_precedente": "pay_as_you_go",
        "a_partir_de": next_month(month_of(made)),
        "acteur": "operateur:awa",
        "le": change["le"],
        "prix_unitaire_xof": 80,
        "redevance_mensuelle_xof": 400_000,
        "signatures_incluses": 6_000,
        "formule_apres_gratuite": None,
    }
    assert refused.exit_code != 0
    assert "enterprise" in refused.output
    assert [row["signatures"] for row in usage] == [0, 0, 0]  # type: ignore[index, union-attr]
    history = run_json(cli, "billing", "plan", "history", client.client_id)
    assert [row["formule"] for row in history] == ["enterprise"]  # type: ignore[index, union-attr]


def test_a_month_beyond_what_billing_counts_is_refused_in_french(
    cli: CliRunner, runtime: Runtime
) -> None:
    # An unexpected error would escape ``run`` (it does not catch them).
    for month in ("0000-01", "9999-12"):
        refused = run(cli, "billing", "close", "--month", month)

        assert refused.exit_code == 1, refused.output
        assert "entre 0001-01 et 9999-11" in refused.output
