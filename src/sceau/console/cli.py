"""``sceau console user …``: the operator creates console users, lists them
and resets them; creation and reset print the single-use enrolment link, to
hand over to the user."""

from __future__ import annotations

from typing import Any

import click

from sceau.audit.actors import Actor
from sceau.cli import _emit, _fail_on_errors, _runtime, json_option, main
from sceau.console.models import ROLES, ConsoleUser
from sceau.console.users import Invitation


def _user_data(user: ConsoleUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "nom": user.name,
        "role": user.role,
        "client": user.client_id,
        "inscrit": user.enrolled,
        "verrouille_jusqu_au": (
            user.locked_until.isoformat() if user.locked_until else None
        ),
    }


def _emit_invitation(as_json: bool, invitation: Invitation) -> None:
    data = {
        **_user_data(invitation.user),
        "lien_inscription": invitation.link,
        "lien_expire_le": invitation.expires_at.isoformat(),
    }
    _emit(as_json, data, lambda: "\n".join(f"{k}\t{v}" for k, v in data.items()))


@main.group()
def console() -> None:
    """The console (/console): its users."""


@console.group()
def user() -> None:
    """Console users: a client's administrators and readers, and the operator."""


@user.command("create")
@click.option("--email", required=True, help="The login; unique.")
@click.option("--name", required=True, help="As the console shows it.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--client",
    "client_id",
    default=None,
    help="The client of an administrator or reader; none for the operator.",
)
@json_option
@_fail_on_errors
def user_create(
    email: str, name: str, role: str, client_id: str | None, as_json: bool
) -> None:
    """Create a user and print their enrolment link."""
    from sceau.console.users import create_user

    with _runtime() as runtime, runtime.db.transaction() as session:
        invitation = create_user(
            session,
            runtime.settings,
            email=email,
            name=name,
            role=role,
            client_id=client_id,
            by=Actor.operator(),
        )
        _emit_invitation(as_json, invitation)


@user.command("list")
@click.option("--client", "client_id", default=None)
@json_option
def user_list(client_id: str | None, as_json: bool) -> None:
    """List console users and whether they have enrolled (never a secret)."""
    from sceau.console.users import list_users

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [_user_data(u) for u in list_users(session, client_id)]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['email']}\t{r['role']}\t{r['client'] or '-'}\t{r['nom']}\t"
            f"{'inscrit' if r['inscrit'] else 'en attente'}"
            for r in rows
        ),
    )


@user.command("reset")
@click.option("--email", required=True)
@json_option
@_fail_on_errors
def user_reset(email: str, as_json: bool) -> None:
    """Clear the password and TOTP, end the sessions, print a new link."""
    from sceau.console.users import reset_user

    with _runtime() as runtime, runtime.db.transaction() as session:
        invitation = reset_user(session, runtime.settings, email, by=Actor.operator())
        _emit_invitation(as_json, invitation)
