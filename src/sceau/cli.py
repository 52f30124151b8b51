"""The operator's command line: ``sceau …``. Every command takes ``--json``."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from sceau.audit.actors import Actor
from sceau.errors import ConfigurationError, SceauError
from sceau.identities.codes import InvalidCode, parse_code
from sceau.identities.errors import CodeTaken
from sceau.lifecycle.models import STATES
from sceau.runtime import Runtime
from sceau.settings import get_settings


@contextmanager
def _runtime() -> Iterator[Runtime]:
    try:
        runtime = Runtime(get_settings())
        runtime.prepare()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield runtime
    finally:
        runtime.close()


def _emit(as_json: bool, data: Any, text: Callable[[], str]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text())


def _fail_on_errors(func: Callable[..., None]) -> Callable[..., None]:
    def wrapped(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except (ValueError, CodeTaken, SceauError) as exc:
            message = exc.message if isinstance(exc, SceauError) else str(exc)
            raise click.ClickException(message) from exc

    wrapped.__name__ = func.__name__
    wrapped.__doc__ = func.__doc__
    return wrapped


json_option = click.option("--json", "as_json", is_flag=True, help="Machine output.")


@click.group()
def main() -> None:
    """Pixel Sceau operator commands."""


# -- serve and storage ---------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option(
    "--mtls",
    default=None,
    metavar="HOST:PORT",
    help="Also start the mutual-TLS front (HAProxy) for level C here.",
)
@click.option(
    "--server-name",
    "server_names",
    multiple=True,
    default=["localhost", "127.0.0.1"],
    show_default=True,
    help="With --mtls: names of the development server certificate.",
)
@click.option(
    "--server-pem",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="With --mtls: your server certificate, chain and key in one PEM.",
)
def serve(
    host: str,
    port: int,
    workers: int,
    mtls: str | None,
    server_names: tuple[str, ...],
    server_pem: Path | None,
) -> None:
    """Apply migrations, load the PKI, and serve the API."""
    import uvicorn

    from sceau.ops.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    if mtls is not None:
        from sceau.tls.serve import serve_behind_front

        try:
            serve_behind_front(
                host=host,
                port=port,
                mtls=mtls,
                server_names=list(server_names),
                server_pem=server_pem,
                workers=workers,
            )
        except (ConfigurationError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
        return
    with _runtime():
        pass  # migrate and create the PKI once, before any worker starts
    from sceau.ops.processes import anchoring_beside

    with anchoring_beside(settings):
        uvicorn.run(
            "sceau.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            server_header=False,
        )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations."""
    with _runtime():
        click.echo("database schema is up to date")


@main.group()
def pki() -> None:
    """The service's own certification authority."""


@pki.command("export-root")
def pki_export_root() -> None:
    """Print the root CA certificate (PEM)."""
    with _runtime() as runtime:
        click.echo(runtime.pki.root_pem(), nl=False)


@pki.command("nss-db")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def pki_nss_db(directory: Path) -> None:
    """Create an NSS database that trusts the root (for pdfsig, Firefox…)."""
    if shutil.which("certutil") is None:
        raise click.ClickException(
            "certutil is missing: install it (Debian: apt-get install libnss3-tools)."
        )
    with _runtime() as runtime:
        pem = runtime.pki.root_pem()
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "cert9.db").exists():
        subprocess.run(
            ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True
        )
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as handle:
        handle.write(pem)
        handle.flush()
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{directory}",
                "-n",
                "Pixel Sceau Root CA",
                "-t",
                "CT,C,C",
                "-i",
                handle.name,
            ],
            check=True,
        )
    click.echo(f"sql:{directory}")


@main.command()
@json_option
def purge(as_json: bool) -> None:
    """Delete signed PDFs past retention, expired idempotency keys, expired
    HMAC nonces and authentication failures older than the rate window."""
    from sceau.db import without_statement_timeout
    from sceau.idempotency.service import purge_expired
    from sceau.signing.service import purge_expired_documents

    with _runtime() as runtime:
        with runtime.db.transaction() as session:
            # A first purge after months may delete many rows in one go.
            without_statement_timeout(session)
            data = {
                "documents_supprimes": purge_expired_documents(session),
                "cles_idempotence_supprimees": purge_expired(session),
            }
        data["traces_authentification_supprimees"] = runtime.authenticator.purge()
    _emit(
        as_json,
        data,
        lambda: (
            f"{data['documents_supprimes']} signed PDFs, "
            f"{data['cles_idempotence_supprimees']} idempotency keys and "
            f"{data['traces_authentification_supprimees']} expired nonces and "
            "authentication failures purged"
        ),
    )


# -- clients -------------------------------------------------------------------


@main.group()
def client() -> None:
    """Organisations that call the API."""


@client.command("create")
@click.option("--name", required=True)
@click.option("--plan", default="pay_as_you_go", show_default=True)
@click.option("--level", type=click.Choice(["A", "B", "C"]), default="A")
@click.option(
    "--state",
    type=click.Choice(STATES),
    default="cadrage",
    show_default=True,
    help="The integration step it starts at.",
)
@json_option
@_fail_on_errors
def client_create(name: str, plan: str, level: str, state: str, as_json: bool) -> None:
    """Create a client; prints its id."""
    from sceau.clients.service import create_client

    with _runtime() as runtime, runtime.db.transaction() as session:
        created = create_client(
            session, name, plan, level, state=state, by=Actor.operator()
        )
        data = {
            "id": created.id,
            "nom": created.name,
            "formule": created.plan,
            "niveau": created.auth_level,
            "etape": created.state,
        }
    _emit(as_json, data, lambda: data["id"])


@client.command("list")
@json_option
def client_list(as_json: bool) -> None:
    """List clients."""
    from sceau.clients.service import list_clients

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [
            {
                "id": c.id,
                "nom": c.name,
                "formule": c.plan,
                "niveau": c.auth_level,
                "adresses_autorisees": c.ip_allowlist.split(),
                "cree_le": c.created_at.isoformat(),
            }
            for c in list_clients(session)
        ]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['id']}\t{r['formule']}\t{r['niveau']}\t{r['nom']}" for r in rows
        ),
    )


@client.command("provision")
@click.option("--name", required=True, help="The organisation's name.")
@click.option("--label", required=True, help="The system identity's label.")
@click.option("--code", "code", default=None, help="Body (ATLANTASYS) or full code.")
@click.option("--plan", default="pay_as_you_go", show_default=True)
@click.option(
    "--state",
    type=click.Choice(STATES),
    default="provisionne",
    show_default=True,
    help="The integration step it starts at (signing opens at pilote).",
)
@click.option("--env", "as_env", is_flag=True, help="Print shell `export` lines.")
@json_option
@_fail_on_errors
def client_provision(
    name: str,
    label: str,
    code: str | None,
    plan: str,
    state: str,
    as_env: bool,
    as_json: bool,
) -> None:
    """Create a client, its system identity and an API key in one step."""
    from sceau.clients.provisioning import provision_system_client

    body = _code_body(code)
    with _runtime() as runtime, runtime.db.transaction() as session:
        made = provision_system_client(
            session,
            runtime.pki,
            runtime.sealer,
            name=name,
            label=label,
            body=body,
            algorithm=runtime.settings.default_key_algorithm,
            plan=plan,
            state=state,
            by=Actor.operator(),
        )
        data = {
            "client": made.client.id,
            "code_09": made.identity.code_09,
            "nom_signataire": made.identity.label,
            "cle_id": made.key.id,
            "cle": made.key.secret,
        }
    if as_env:
        for variable, field in (
            ("PIXEL_CLIENT_ID", "client"),
            ("PIXEL_CODE_09", "code_09"),
            ("PIXEL_NOM_SIGNATAIRE", "nom_signataire"),
            ("PIXEL_API_KEY", "cle"),
        ):
            click.echo(f"export {variable}={shlex.quote(data[field])}")
        return
    _emit(
        as_json,
        data,
        lambda: "\n".join(f"{k}\t{v}" for k, v in data.items()),
    )


# -- identities ----------------------------------------------------------------


@main.group()
def identity() -> None:
    """Identities in whose name documents are signed."""


@identity.command("create-system")
@click.option("--client", "client_id", required=True)
@click.option("--label", required=True, help="Shown in signatures, e.g. the system.")
@click.option("--code", "code", default=None, help="Body (ATLANTASYS) or full code.")
@click.option(
    "--algorithm",
    type=click.Choice(["rsa3072", "ecdsa-p256"]),
    default=None,
    help="Signing key type (default: SCEAU_DEFAULT_KEY_ALGORITHM, rsa3072).",
)
@json_option
@_fail_on_errors
def identity_create_system(
    client_id: str, label: str, code: str | None, algorithm: str | None, as_json: bool
) -> None:
    """Create a 09S system identity with its signing certificate."""
    from sceau.identities.service import create_system_identity

    body = _code_body(code)
    with _runtime() as runtime, runtime.db.transaction() as session:
        created = create_system_identity(
            session,
            runtime.pki,
            runtime.sealer,
            client_id=client_id,
            label=label,
            body=body,
            algorithm=algorithm or runtime.settings.default_key_algorithm,  # type: ignore[arg-type]
            by=Actor.operator(),
        )
        data = _identity_data(created)
    _emit(as_json, data, lambda: data["code_09"])


def _code_body(code: str | None) -> str | None:
    if code is None or not code.upper().startswith("09"):
        return code
    try:
        return parse_code(code.upper()).body
    except InvalidCode as exc:
        raise ValueError(str(exc)) from exc


def _identity_data(row: Any) -> dict[str, Any]:
    return {
        "code_09": row.code_09,
        "client": row.client_id,
        "libelle": row.label,
        "organisation": row.organisation,
        "algorithme": row.key_algorithm,
        "revoquee": row.revoked_at is not None,
    }


@identity.command("list")
@click.option("--client", "client_id", default=None)
@json_option
def identity_list(client_id: str | None, as_json: bool) -> None:
    """List identities."""
    from sceau.identities.service import list_identities

    with _runtime() as runtime, runtime.db.sessions() as session:
        rows = [_identity_data(i) for i in list_identities(session, client_id)]
    _emit(
        as_json,
        rows,
        lambda: "\n".join(
            f"{r['code_09']}\t{r['client']}\t{r['libelle']}" for r in rows
        ),
    )


# -- credentials: API keys, HMAC secrets, client certificates, TLS front -------

# Imported for the commands they attach to the groups above.
# -- anchoring ---------------------------------------------------------------------
import sceau.anchoring.cli  # noqa: E402
import sceau.audit.cli  # noqa: E402
import sceau.authority.cli  # noqa: E402
import sceau.backup.cli  # noqa: E402
import sceau.billing.cli  # noqa: E402
import sceau.catalogue.cli  # noqa: E402
import sceau.clients.cli  # noqa: E402
import sceau.console.cli  # noqa: E402
import sceau.delegations.cli  # noqa: E402
import sceau.deploy.cli  # noqa: E402
import sceau.hsm.cli  # noqa: E402
import sceau.lifecycle.cli  # noqa: E402
import sceau.people.cli  # noqa: E402
import sceau.sla.cli  # noqa: E402
import sceau.tls.cli  # noqa: E402, F401

# -- events: workers, webhooks, contacts, incidents ----------------------------


def _add_event_commands() -> None:
    # Imported here: those modules import this one for its helpers.
    from sceau.events.cli import worker
    from sceau.incidents.cli import incident
    from sceau.notifications.cli import set_contact_command
    from sceau.webhooks.cli import webhook

    main.add_command(worker)
    main.add_command(webhook)
    main.add_command(incident)
    client.add_command(set_contact_command)


_add_event_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
