"""``sceau webhook …``: clients' endpoints and deliveries, for the operator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from sceau.cli import _emit, _fail_on_errors, _runtime, json_option


def endpoint_json(endpoint: Any) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "client": endpoint.client_id,
        "url": endpoint.url,
        "origine": endpoint.origin,
        "evenements": endpoint.types,
        "actif": endpoint.active,
        "desactive_motif": endpoint.disabled_reason,
        "cree_le": endpoint.created_at.isoformat(),
    }


@click.group()
def webhook() -> None:
    """Clients' webhook endpoints and their deliveries."""


@webhook.command("add")
@click.option("--client", "client_id", required=True)
@click.option("--url", required=True, help="https:// address of the receiver.")
@click.option(
    "--events",
    default="",
    help="Comma-separated event types (default: every type).",
)
@json_option
@_fail_on_errors
def webhook_add(client_id: str, url: str, events: str, as_json: bool) -> None:
    """Register an endpoint; prints its id and its secret (whsec_…)."""
    from sceau.webhooks.service import add_endpoint
    from sceau.webhooks.signatures import SecretBox

    types = [t.strip() for t in events.split(",") if t.strip()]
    with _runtime() as runtime, runtime.db.transaction() as session:
        made = add_endpoint(
            session,
            SecretBox(runtime.settings.load_master_key()),
            client_id=client_id,
            url=url,
            event_types=types,
            allow_http_loopback=runtime.settings.allow_http_loopback_callbacks,
        )
        data = {**endpoint_json(made.endpoint), "secret": made.secret}
    _emit(as_json, data, lambda: f"{data['id']}\t{data['secret']}")


@webhook.command("list")
@click.option("--client", "client_id", default=None)
@json_option
def webhook_list(client_id: str | None, as_json: bool) -> None:
    """List endpoints (never their secrets)."""
    from sceau.webhooks.service import list_endpoints

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [endpoint_json(e) for e in list_endpoints(session, client_id)]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['id']}\t{r['client']}\t{'active' if r['actif'] else 'disabled'}\t"
            f"{r['url']}\t{','.join(r['evenements']) or '*'}"
            for r in rows
        ),
    )


@webhook.command("remove")
@click.argument("endpoint_id")
@json_option
@_fail_on_errors
def webhook_remove(endpoint_id: str, as_json: bool) -> None:
    """Remove an endpoint; its pending deliveries are abandoned."""
    from sceau.webhooks.service import get_endpoint, remove_endpoint

    with _runtime() as runtime, runtime.db.transaction() as session:
        remove_endpoint(session, get_endpoint(session, endpoint_id))
    _emit(as_json, {"id": endpoint_id, "supprime": True}, lambda: "removed")


@webhook.command("enable")
@click.argument("endpoint_id")
@json_option
@_fail_on_errors
def webhook_enable(endpoint_id: str, as_json: bool) -> None:
    """Enable a disabled endpoint again."""
    from sceau.webhooks.service import enable_endpoint, get_endpoint

    with _runtime() as runtime, runtime.db.transaction() as session:
        endpoint = get_endpoint(session, endpoint_id)
        enable_endpoint(endpoint)
        data = endpoint_json(endpoint)
    _emit(as_json, data, lambda: "enabled")


@webhook.command("rotate-secret")
@click.argument("endpoint_id")
@json_option
@_fail_on_errors
def webhook_rotate(endpoint_id: str, as_json: bool) -> None:
    """A new secret; the previous one keeps signing for the overlap."""
    from sceau.webhooks.service import get_endpoint, rotate_secret
    from sceau.webhooks.signatures import SecretBox

    with _runtime() as runtime, runtime.db.transaction() as session:
        settings = runtime.settings
        secret = rotate_secret(
            session,
            SecretBox(settings.load_master_key()),
            get_endpoint(session, endpoint_id),
            timedelta(hours=settings.webhook_secret_overlap_hours),
        )
    _emit(as_json, {"id": endpoint_id, "secret": secret}, lambda: secret)


@webhook.command("deliveries")
@click.option("--client", "client_id", default=None)
@click.option("--endpoint", "endpoint_id", default=None)
@click.option("--status", default=None, help="en_attente, livre, echec, abandonne")
@click.option("--limit", default=50, show_default=True, type=int)
@json_option
@_fail_on_errors
def webhook_deliveries(
    client_id: str | None,
    endpoint_id: str | None,
    status: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List deliveries (webhooks and e-mails), most recent first, with attempts."""
    from sceau.events.service import delivery_json, list_deliveries

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [
            delivery_json(view)
            for view in list_deliveries(
                session,
                client_id=client_id,
                endpoint_id=endpoint_id,
                status=status,
                limit=limit,
            )
        ]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['id']}\t{r['etat']}\t{r['tentatives']}\t{r['type']}\t"
            f"{r['url'] or r['destinataire']}\t{r['derniere_erreur'] or ''}".rstrip()
            for r in rows
        ),
    )


@webhook.command("redeliver")
@click.argument("delivery_id")
@json_option
@_fail_on_errors
def webhook_redeliver(delivery_id: str, as_json: bool) -> None:
    """Queue a delivery's event to the same destination again, now."""
    from sceau.events.service import redeliver

    with _runtime() as runtime, runtime.db.transaction() as session:
        again = redeliver(session, delivery_id)
        data = {"id": again.id, "origine": delivery_id, "etat": again.status}
    _emit(as_json, data, lambda: data["id"])
