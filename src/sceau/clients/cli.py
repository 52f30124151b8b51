"""Operator commands for client credentials: levels, allowlists, API keys,
HMAC secrets and client certificates. Attached to ``sceau`` by ``sceau.cli``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from sceau.audit.actors import Actor
from sceau.cli import _emit, _fail_on_errors, _runtime, client, json_option, main
from sceau.clients import service
from sceau.clients.models import ApiKey, HmacSecret
from sceau.clients.service import IssuedKey
from sceau.db import utcnow
from sceau.runtime import Runtime

GRACE_OPTION = click.option(
    "--grace-hours",
    type=click.FloatRange(min=0, max=720),
    default=24,
    show_default=True,
    help="How long the previous one stays valid (0: it ends now).",
)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _state(row: Any, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoquee"
    if row.expires_at is not None:
        return "expiree" if row.expires_at <= now else "en_recouvrement"
    return "active"


def _credential_rows(rows: list[Any]) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": r.id,
            "client": r.client_id,
            **({"prefixe": r.prefix} if hasattr(r, "prefix") else {}),
            "etat": _state(r, now),
            "revoquee": r.revoked_at is not None,
            "cree_le": _when(r.created_at),
            "expire_le": _when(r.expires_at),
            "revoquee_le": _when(r.revoked_at),
            "derniere_utilisation": _when(r.last_used_at),
        }
        for r in rows
    ]


def _credential_table(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        "\t".join(
            [
                r["id"],
                r["client"],
                r["etat"],
                f"expires {r['expire_le'] or '-'}",
                f"last used {r['derniere_utilisation'] or 'never'}",
            ]
        )
        for r in rows
    )


def _issued(as_json: bool, issued: Any, what: str) -> None:
    data = {"id": issued.id, "client": issued.client_id, "cle": issued.secret}
    _emit(as_json, data, lambda: issued.secret)
    if not as_json:
        click.echo(
            f"{what} {issued.id}: store it now, it cannot be shown again.", err=True
        )


# -- levels and allowlists -------------------------------------------------------


@client.command("set-level")
@click.option("--client", "client_id", required=True)
@click.option("--level", type=click.Choice(["A", "B", "C"]), required=True)
@json_option
@_fail_on_errors
def client_set_level(client_id: str, level: str, as_json: bool) -> None:
    """Set the authentication level every request of the client must meet."""
    from sceau.clients.service import set_level

    with _runtime() as runtime, runtime.db.transaction() as session:
        updated = set_level(session, client_id, level, by=Actor.operator())
        data = {"client": updated.id, "niveau": updated.auth_level}
        no_allowlist = level == "C" and not updated.ip_allowlist
    _emit(as_json, data, lambda: f"{data['client']} is now level {data['niveau']}")
    if no_allowlist:
        click.echo(
            "warning: the allowlist is empty, so every request is refused until "
            "`sceau client set-allowlist` lists the client's networks.",
            err=True,
        )


@client.command("set-allowlist")
@click.option("--client", "client_id", required=True)
@click.argument("networks", nargs=-1)
@json_option
@_fail_on_errors
def client_set_allowlist(
    client_id: str, networks: tuple[str, ...], as_json: bool
) -> None:
    """Replace the client's level-C source networks (IPv4/IPv6 CIDRs)."""
    from sceau.clients.service import allowlist_of, set_allowlist

    with _runtime() as runtime, runtime.db.transaction() as session:
        updated = set_allowlist(session, client_id, list(networks), by=Actor.operator())
        data = {"client": updated.id, "adresses_autorisees": allowlist_of(updated)}
    _emit(as_json, data, lambda: "\n".join(data["adresses_autorisees"]) or "(empty)")


# -- API keys and HMAC secrets -------------------------------------------------------


@dataclass(frozen=True)
class CredentialKind:
    """What differs between the two rotating credentials' commands."""

    name: str  # as the operator reads it
    issue: Callable[[Runtime, Session, str, timedelta], IssuedKey]
    revoke: Callable[[Session, str], ApiKey | HmacSecret]
    listing: Callable[[Session, str | None], list[ApiKey] | list[HmacSecret]]


def _credential_commands(group: click.Group, kind: CredentialKind) -> None:
    @group.command(
        "create",
        help=f"Issue an {kind.name}, printed once; the previous one overlaps "
        "for the grace period.",
    )
    @click.option("--client", "client_id", required=True)
    @GRACE_OPTION
    @json_option
    @_fail_on_errors
    def create(client_id: str, grace_hours: float, as_json: bool) -> None:
        with _runtime() as runtime, runtime.db.transaction() as session:
            issued = kind.issue(
                runtime, session, client_id, timedelta(hours=grace_hours)
            )
        _issued(as_json, issued, kind.name)

    @group.command("revoke", help=f"Revoke an {kind.name} at once.")
    @click.argument("credential_id")
    @json_option
    @_fail_on_errors
    def revoke(credential_id: str, as_json: bool) -> None:
        with _runtime() as runtime, runtime.db.transaction() as session:
            revoked = kind.revoke(session, credential_id)
            data = {"id": revoked.id, "revoquee_le": str(revoked.revoked_at)}
        _emit(as_json, data, lambda: f"revoked {data['id']}")

    @group.command(
        "list",
        help=f"List {kind.name}s: state, end of overlap, last use (never the secret).",
    )
    @click.option("--client", "client_id", default=None)
    @json_option
    def listing(client_id: str | None, as_json: bool) -> None:
        with _runtime() as runtime, runtime.db.sessions() as session:
            rows = _credential_rows(kind.listing(session, client_id))
        _emit(as_json, rows, lambda: _credential_table(rows))


@main.group()
def key() -> None:
    """API keys (every level), stored only as their SHA-256."""


@main.group("hmac")
def hmac_group() -> None:
    """Level-B HMAC secrets, stored sealed under the master key."""


_credential_commands(
    key,
    CredentialKind(
        name="API key",
        issue=lambda runtime, session, client_id, grace: service.create_api_key(
            session, client_id, grace, by=Actor.operator()
        ),
        revoke=lambda session, key_id: service.revoke_api_key(
            session, key_id, by=Actor.operator()
        ),
        listing=service.list_api_keys,
    ),
)
_credential_commands(
    hmac_group,
    CredentialKind(
        name="HMAC secret",
        issue=lambda runtime, session, client_id, grace: service.create_hmac_secret(
            session, runtime.sealer, client_id, grace, by=Actor.operator()
        ),
        revoke=lambda session, secret_id: service.revoke_hmac_secret(
            session, secret_id, by=Actor.operator()
        ),
        listing=service.list_hmac_secrets,
    ),
)


# -- client certificates -------------------------------------------------------------


@main.group("client-cert")
def client_cert() -> None:
    """Level-C client certificates, from the access CA."""


@client_cert.command("issue")
@click.option("--client", "client_id", required=True)
@click.option(
    "--csr",
    "csr_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The client's CSR (PEM): its key never leaves the client.",
)
@click.option(
    "--pkcs12",
    "p12_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Generate the key here instead, in a PKCS#12 file.",
)
@click.option(
    "--passphrase",
    envvar="SCEAU_PKCS12_PASSPHRASE",
    default=None,
    help="PKCS#12 passphrase (or SCEAU_PKCS12_PASSPHRASE; asked for if absent).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the certificate (PEM) here; default: print it.",
)
@json_option
@_fail_on_errors
def client_cert_issue(
    client_id: str,
    csr_path: Path | None,
    p12_path: Path | None,
    passphrase: str | None,
    out_path: Path | None,
    as_json: bool,
) -> None:
    """Issue a client certificate from a CSR, or with a key in a PKCS#12 file."""
    from sceau.clients.certificates import issue_from_csr, issue_pkcs12

    if (csr_path is None) == (p12_path is None):
        raise click.UsageError("give exactly one of --csr FILE or --pkcs12 FILE")
    if p12_path is not None and passphrase is None:
        passphrase = click.prompt(
            "PKCS#12 passphrase", hide_input=True, confirmation_prompt=True
        )

    with _runtime() as runtime, runtime.db.transaction() as session:
        if csr_path is not None:
            issued = issue_from_csr(
                session,
                runtime.access_ca,
                client_id,
                csr_path.read_bytes(),
                by=Actor.operator(),
            )
        else:
            assert p12_path is not None and passphrase is not None
            issued, bundle = issue_pkcs12(
                session,
                runtime.access_ca,
                client_id,
                passphrase,
                by=Actor.operator(),
            )
            p12_path.touch(mode=0o600, exist_ok=True)
            p12_path.chmod(0o600)
            p12_path.write_bytes(bundle)
        data = {
            "client": issued.record.client_id,
            "empreinte_sha256": issued.record.fingerprint,
            "numero_serie": issued.record.serial_hex,
            "expire_le": issued.record.not_after.isoformat(),
        }
    if out_path is not None:
        out_path.write_bytes(issued.pem)
    if as_json:
        _emit(True, {**data, "certificat_pem": issued.pem.decode()}, str)
    elif out_path is None and p12_path is None:
        click.echo(issued.pem.decode(), nl=False)
    click.echo(f"fingerprint {data['empreinte_sha256']}", err=True)


@client_cert.command("revoke")
@click.argument("reference")
@json_option
@_fail_on_errors
def client_cert_revoke(reference: str, as_json: bool) -> None:
    """Revoke a client certificate (fingerprint or serial): refused at once,
    listed in /pki/access.crl, and handed to the running front."""
    from sceau.clients.certificates import revoke_client_certificate
    from sceau.tls.front import FrontFiles, push_crl, write_crl
    from sceau.tls.serve import front_directory

    with _runtime() as runtime:
        with runtime.db.transaction() as session:
            revoked = revoke_client_certificate(session, reference, by=Actor.operator())
            data: dict[str, Any] = {
                "empreinte_sha256": revoked.fingerprint,
                "revoque_le": _when(revoked.revoked_at),
            }
        # The application refuses the certificate from now on; the running
        # front gets the new CRL too, so the handshake refuses it as well.
        files = FrontFiles(front_directory(runtime.settings))
        data["front_mis_a_jour"] = files.directory.exists() and push_crl(
            files, write_crl(runtime, files)
        )
    _emit(as_json, data, lambda: f"revoked {data['empreinte_sha256']}")


@client_cert.command("list")
@click.option("--client", "client_id", default=None)
@json_option
def client_cert_list(client_id: str | None, as_json: bool) -> None:
    """List client certificates."""
    from sceau.clients.certificates import list_client_certificates

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [
            {
                "empreinte_sha256": c.fingerprint,
                "client": c.client_id,
                "numero_serie": c.serial_hex,
                "expire_le": c.not_after.isoformat(),
                "revoque_le": _when(c.revoked_at),
            }
            for c in list_client_certificates(session, client_id)
        ]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['empreinte_sha256']}\t{r['client']}\t"
            f"{'revoked' if r['revoque_le'] else 'valid until ' + str(r['expire_le'])}"
            for r in rows
        ),
    )
