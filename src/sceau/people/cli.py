"""``sceau person …``: the operator registers professionals, lists them,
re-sends their enrolment link and resets their credentials."""

from __future__ import annotations

from typing import Any

import click

from sceau.audit.actors import Actor
from sceau.cli import _code_body, _emit, _fail_on_errors, _runtime, json_option, main
from sceau.people.models import PROFESSIONS, Person
from sceau.people.service import Invitation

SHOW_LINK = click.option(
    "--show-link",
    is_flag=True,
    help="Also print the enrolment link, to hand over by another channel.",
)


def _person_data(person: Person) -> dict[str, Any]:
    return {
        "code_09": person.code_09,
        "nom": person.name,
        "email": person.email,
        "profession": person.profession,
        "client": person.client_id,
        "inscrite": person.enrolled,
        "verrouillee_jusqu_au": (
            person.locked_until.isoformat() if person.locked_until else None
        ),
    }


def _invitation_data(invitation: Invitation, show_link: bool) -> dict[str, Any]:
    data = {
        **_person_data(invitation.person),
        "lien_expire_le": invitation.expires_at.isoformat(),
    }
    if show_link:
        data["lien_inscription"] = invitation.link
    return data


def _emit_invitation(as_json: bool, data: dict[str, Any]) -> None:
    _emit(as_json, data, lambda: "\n".join(f"{k}\t{v}" for k, v in data.items()))


@main.group()
def person() -> None:
    """Professionals who sign in their own name (09 identities)."""


@person.command("create")
@click.option("--name", required=True, help="As it appears in signatures.")
@click.option("--email", required=True, help="Where the enrolment link is sent.")
@click.option("--profession", type=click.Choice(PROFESSIONS), required=True)
@click.option(
    "--client",
    "client_id",
    default=None,
    help="The organisation the person signs for; without it, an individual "
    "professional gets a client account of their own.",
)
@click.option("--code", "code", default=None, help="Body (KONEAMI) or full code.")
@SHOW_LINK
@json_option
@_fail_on_errors
def person_create(
    name: str,
    email: str,
    profession: str,
    client_id: str | None,
    code: str | None,
    show_link: bool,
    as_json: bool,
) -> None:
    """Register a person: a 09 identity, its certificate, an invitation e-mail."""
    from sceau.people.service import create_person

    body = _code_body(code)
    with _runtime() as runtime, runtime.db.transaction() as session:
        invitation = create_person(
            session,
            runtime.pki,
            runtime.sealer,
            runtime.settings,
            name=name,
            email=email,
            profession=profession,
            client_id=client_id,
            body=body,
            algorithm=runtime.settings.default_key_algorithm,
            by=Actor.operator(),
        )
        data = _invitation_data(invitation, show_link)
    _emit_invitation(as_json, data)


@person.command("list")
@click.option("--client", "client_id", default=None)
@json_option
def person_list(client_id: str | None, as_json: bool) -> None:
    """List persons and whether they have enrolled (never a secret)."""
    from sceau.people.service import list_persons

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [_person_data(p) for p in list_persons(session, client_id)]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['code_09']}\t{r['client']}\t{r['profession']}\t{r['nom']}\t"
            f"{'inscrite' if r['inscrite'] else 'en attente'}"
            for r in rows
        ),
    )


@person.command("invite")
@click.option("--code", "code_09", required=True, help="The person's 09 code.")
@SHOW_LINK
@json_option
@_fail_on_errors
def person_invite(code_09: str, show_link: bool, as_json: bool) -> None:
    """Send a new enrolment link; the previous one stops working."""
    from sceau.people.service import get_person, invite

    with _runtime() as runtime, runtime.db.transaction() as session:
        found = get_person(session, code_09)
        if found.enrolled:
            raise ValueError(
                f"{found.code_09} is enrolled already: use `sceau person reset` "
                "to replace the password and the TOTP secret."
            )
        invitation = invite(session, runtime.settings, found)
        data = _invitation_data(invitation, show_link)
    _emit_invitation(as_json, data)


@person.command("reset")
@click.option("--code", "code_09", required=True, help="The person's 09 code.")
@SHOW_LINK
@json_option
@_fail_on_errors
def person_reset(code_09: str, show_link: bool, as_json: bool) -> None:
    """Clear the password, TOTP and recovery codes; send a new enrolment link."""
    from sceau.people.service import reset_person

    with _runtime() as runtime, runtime.db.transaction() as session:
        invitation = reset_person(
            session, runtime.settings, code_09, by=Actor.operator()
        )
        data = _invitation_data(invitation, show_link)
    _emit_invitation(as_json, data)
