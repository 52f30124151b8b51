"""``sceau billing …``: plans, usage, monthly closes, invoices and credit
notes, for the operator. Attached to ``sceau`` by ``sceau.cli``."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from sceau.audit.actors import Actor
from sceau.cli import _emit, _fail_on_errors, _runtime, json_option, main
from sceau.clients.service import PLANS, get_client
from sceau.db import iso_utc, utcnow


def _operator() -> str:
    return f"operateur:{getpass.getuser()}"


ACTOR_OPTION = click.option(
    "--actor",
    default=_operator,
    show_default="operateur:<your login>",
    help="Who does it, as recorded.",
)


def _invoice_row(data: dict[str, Any]) -> str:
    return (
        f"{data['numero']}\t{data['type']}\t{data['client']}\t{data['mois']}\t"
        f"{data['total_xof']} XOF"
    )


@main.group()
def billing() -> None:
    """Plans, usage and invoices (amounts in XOF, months in UTC)."""


@billing.command("close")
@click.option("--month", required=True, help="The month to invoice, YYYY-MM.")
@ACTOR_OPTION
@json_option
@_fail_on_errors
def billing_close(month: str, actor: str, as_json: bool) -> None:
    """Issue the month's invoices; a second close issues nothing new."""
    from sceau.billing.invoices import close_month, invoice_json

    with _runtime() as runtime:
        issued = [
            invoice_json(i)
            for i in close_month(runtime, month, actor=actor, by=Actor.operator())
        ]
    _emit(
        as_json,
        issued,
        lambda: (
            "\n".join(_invoice_row(i) for i in issued)
            or f"nothing new to invoice for {month}"
        ),
    )


@billing.group("plan")
def billing_plan() -> None:
    """A client's plan (formule) and its history."""


@billing_plan.command("set")
@click.argument("client_id")
@click.argument("plan", type=click.Choice(PLANS))
@click.option("--unit-price", type=int, help="enterprise: XOF per signature.")
@click.option("--monthly-fee", type=int, help="enterprise: XOF per month.")
@click.option("--included", type=int, help="enterprise: signatures included.")
@click.option(
    "--after",
    "after_plan",
    type=click.Choice(["pay_as_you_go", "forfait"]),
    help="gratuit_notaire: the plan once the free period is over.",
)
@ACTOR_OPTION
@json_option
@_fail_on_errors
def billing_plan_set(
    client_id: str,
    plan: str,
    unit_price: int | None,
    monthly_fee: int | None,
    included: int | None,
    after_plan: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Move CLIENT_ID to PLAN on the first day of next month (UTC)."""
    from sceau.billing.service import schedule_plan_change

    with _runtime() as runtime, runtime.db.transaction() as session:
        get_client(session, client_id)
        change = schedule_plan_change(
            session,
            client_id,
            plan,
            actor=actor,
            unit_price_xof=unit_price,
            monthly_fee_xof=monthly_fee,
            included_signatures=included,
            after_plan=after_plan,
            by=Actor.operator(),
        )
        data = _change_data(change)
    _emit(
        as_json,
        data,
        lambda: (
            f"{client_id}: {data['formule_precedente']} -> {plan} "
            f"from {data['a_partir_de']}"
        ),
    )


@billing_plan.command("history")
@click.argument("client_id")
@json_option
@_fail_on_errors
def billing_plan_history(client_id: str, as_json: bool) -> None:
    """Every plan change recorded for CLIENT_ID, oldest first."""
    from sceau.billing.service import plan_history

    with _runtime() as runtime, runtime.db.sessions() as session:
        get_client(session, client_id)
        rows = [_change_data(change) for change in plan_history(session, client_id)]
    _emit(
        as_json,
        rows,
        lambda: (
            "\n".join(
                f"{r['a_partir_de']}\t{r['formule']}\t{r['acteur']}\t{r['le']}"
                for r in rows
            )
            or "(no change recorded)"
        ),
    )


@billing.command("invoices")
@click.option("--client", "client_id", default=None)
@json_option
@_fail_on_errors
def billing_invoices(client_id: str | None, as_json: bool) -> None:
    """Invoices and credit notes, newest first."""
    from sceau.billing.invoices import invoice_json, list_invoices

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [invoice_json(i) for i in list_invoices(session, client_id)]
    for row in rows:
        row.pop("lignes")
    _emit(
        as_json,
        rows,
        lambda: "\n".join(_invoice_row(r) for r in rows) or "(no invoice)",
    )


@billing.group("invoice")
def billing_invoice() -> None:
    """One invoice."""


@billing_invoice.command("show")
@click.argument("number")
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the signed PDF there.",
)
@json_option
@_fail_on_errors
def billing_invoice_show(number: str, pdf_path: Path | None, as_json: bool) -> None:
    """Print invoice NUMBER, its lines and totals."""
    from sceau.billing.errors import InvoicePdfPending
    from sceau.billing.invoices import get_invoice, invoice_json

    with _runtime() as runtime, runtime.db.sessions() as session:
        invoice = get_invoice(session, number)
        data = invoice_json(invoice)
        pdf = invoice.pdf
    if pdf_path is not None:
        if pdf is None:
            raise click.ClickException(InvoicePdfPending.message)
        pdf_path.write_bytes(pdf)

    def text() -> str:
        lines = [_invoice_row(data)]
        lines += [
            f"  {line['quantite']} x {line['prix_unitaire_xof']}"
            f" = {line['montant_xof']}\t{line['libelle']}"
            for line in data["lignes"]
        ]
        lines.append(f"  subtotal {data['sous_total_xof']}, total {data['total_xof']}")
        return "\n".join(lines)

    _emit(as_json, data, text)


@billing.command("credit-note")
@click.argument("number")
@click.option("--amount", type=int, required=True, help="XOF to credit.")
@click.option("--reason", required=True, help="Why, printed on the credit note.")
@ACTOR_OPTION
@json_option
@_fail_on_errors
def billing_credit_note(
    number: str, amount: int, reason: str, actor: str, as_json: bool
) -> None:
    """Issue a credit note (avoir) against invoice NUMBER."""
    from sceau.billing.invoices import invoice_json, issue_credit_note

    with _runtime() as runtime:
        data = invoice_json(
            issue_credit_note(
                runtime, number, amount, reason, actor=actor, by=Actor.operator()
            )
        )
    _emit(as_json, data, lambda: _invoice_row(data))


@billing.command("usage")
@click.argument("client_id")
@click.option("--months", type=click.IntRange(1, 36), default=12, show_default=True)
@json_option
@_fail_on_errors
def billing_usage(client_id: str, months: int, as_json: bool) -> None:
    """CLIENT_ID's signatures by month and mode, the current month last."""
    from sceau.billing.service import plan_for_month, usage_by_month

    with _runtime() as runtime, runtime.db.sessions() as session:
        get_client(session, client_id)
        rows: list[dict[str, Any]] = [
            {
                "mois": usage.month,
                "formule": plan_for_month(session, client_id, usage.month),
                "signatures": usage.signatures,
                "par_mode": usage.by_mode,
            }
            for usage in usage_by_month(session, client_id, months=months)
        ]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['mois']}\t{r['formule']}\t{r['signatures']}\t"
            + " ".join(f"{mode}={n}" for mode, n in r["par_mode"].items())
            for r in rows
        ),
    )


def _change_data(change: Any) -> dict[str, Any]:
    return {
        "client": change.client_id,
        "formule": change.plan,
        "formule_precedente": change.previous_plan,
        "a_partir_de": change.effective_month,
        "acteur": change.actor,
        "le": iso_utc(change.created_at or utcnow()),
        "prix_unitaire_xof": change.unit_price_xof,
        "redevance_mensuelle_xof": change.monthly_fee_xof,
        "signatures_incluses": change.included_signatures,
        "formule_apres_gratuite": change.after_plan,
    }
