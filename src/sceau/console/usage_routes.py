"""A client's usage, invoices and SLA indicators in the console, from
``sceau.billing`` and ``sceau.sla``. Months are UTC months ("YYYY-MM")."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from sceau.billing.errors import InvoiceNotFound
from sceau.billing.invoices import get_invoice, list_invoices
from sceau.billing.service import usage_by_month
from sceau.console.charts import Bar, bar_chart
from sceau.console.errors import ConsolePageNotFound
from sceau.console.pages import Who, client_in_view, render
from sceau.http import runtime_of
from sceau.sla import service as sla
from sceau.web.pages import now_of, secure_headers

# Included by ``sceau.console.routes``, under its /console prefix.
router = APIRouter(prefix="/clients", include_in_schema=False)

USAGE_MONTHS = 12
SLA_MONTHS = 6


@router.get("/{client_id}/consommation", response_class=HTMLResponse)
def usage_page(client_id: str, request: Request, who: Who) -> Response:
    with runtime_of(request).db.sessions() as session:
        client = client_in_view(session, who, client_id)
        months = usage_by_month(
            session, client_id, months=USAGE_MONTHS, now=now_of(request)
        )
        invoices = list_invoices(session, client_id)
    chart = bar_chart(
        "Signatures par mois",
        [Bar(month.month, month.signatures) for month in months],
        unit="signatures",
        chart_id="graphique-consommation",
    )
    return render(
        request,
        "console/consommation.html",
        {
            "client": client,
            "tab": "/consommation",
            "months": list(reversed(months)),
            "chart": chart,
            "invoices": invoices,
        },
        who=who,
    )


@router.get("/{client_id}/factures/{number}.pdf")
def invoice_download(
    client_id: str, number: str, request: Request, who: Who
) -> Response:
    with runtime_of(request).db.sessions() as session:
        client_in_view(session, who, client_id)
        try:
            invoice = get_invoice(session, number, client_id=client_id)
        except InvoiceNotFound as exc:
            raise ConsolePageNotFound(
                "Aucune facture de ce numéro pour ce client.",
                code="facture_introuvable",
            ) from exc
        pdf = invoice.pdf
    if pdf is None:
        raise ConsolePageNotFound(
            "Le PDF de cette facture est en cours de préparation : réessayez "
            "dans quelques minutes.",
            code="facture_en_preparation",
        )
    return secure_headers(
        Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'},
        )
    )


@router.get("/{client_id}/sla", response_class=HTMLResponse)
def sla_page(client_id: str, request: Request, who: Who) -> Response:
    runtime = runtime_of(request)
    now = now_of(request)
    month = sla.month_of(now)
    with runtime.db.sessions() as session:
        client = client_in_view(session, who, client_id)
        current = sla.indicators(session, runtime.settings, client_id, month, now=now)
        past = sla.series(
            session, runtime.settings, client_id, months=SLA_MONTHS, now=now
        )
    charts = [
        (
            indicator,
            bar_chart(
                indicator.label,
                [Bar(month, value) for month, value, _ in past.get(indicator.code, [])],
                unit=indicator.unit,
                target=indicator.target,
                chart_id=f"graphique-{indicator.code}",
            ),
            past.get(indicator.code, []),
        )
        for indicator in current
    ]
    return render(
        request,
        "console/sla.html",
        {
            "client": client,
            "tab": "/sla",
            "month": month,
            "indicators": current,
            "charts": charts,
        },
        who=who,
    )
