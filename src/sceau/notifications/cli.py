"""``sceau client set-contact``: who is told about incidents, and how."""

from __future__ import annotations

import click

from sceau.cli import _emit, _fail_on_errors, _runtime, json_option


@click.command("set-contact")
@click.option("--client", "client_id", required=True)
@click.option("--email", default=None, help="Contact address for notices.")
@click.option(
    "--channel",
    type=click.Choice(["webhook", "email", "both"]),
    default=None,
    help="The agreed channel for incident notices.",
)
@json_option
@_fail_on_errors
def set_contact_command(
    client_id: str, email: str | None, channel: str | None, as_json: bool
) -> None:
    """Set a client's contact e-mail and agreed incident channel."""
    from sceau.notifications.service import set_contact

    with _runtime() as runtime, runtime.db.transaction() as session:
        contact = set_contact(session, client_id, email=email, channel=channel)
        data = {
            "client": contact.id,
            "email_contact": contact.contact_email,
            "canal_incident": contact.incident_channel,
        }
    _emit(
        as_json,
        data,
        lambda: f"{data['client']}\t{data['email_contact']}\t{data['canal_incident']}",
    )
