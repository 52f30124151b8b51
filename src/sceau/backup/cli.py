"""``sceau backup …``: make an encrypted backup while the service runs, read
its manifest, restore it, and make a backup key. Attached to ``sceau`` by
``sceau.cli``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from sceau.backup.databases import safe_url
from sceau.backup.errors import BackupError, DatabaseToolFailed
from sceau.backup.keys import load_backup_key, write_new_key
from sceau.backup.service import (
    BACKUP_SUFFIX,
    KEY_TABLES,
    Restored,
    create_backup,
    default_backup_name,
    read_manifest,
    restore_backup,
)
from sceau.cli import _emit, json_option, main
from sceau.db import storage_reason, utcnow
from sceau.errors import ConfigurationError
from sceau.pki.keystore import KeySealer
from sceau.settings import MASTER_KEY_FILE, Settings, get_settings

KEY_FILE_OPTION = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The backup key's file (default: SCEAU_BACKUP_KEY_FILE, SCEAU_BACKUP_KEY).",
)


# Exit codes of the failures that are not the backup's own (errors.py).
EXIT_FILE_SYSTEM = 7
EXIT_DATABASE = 8


def _exits_with_code(func: Callable[..., None]) -> Callable[..., None]:
    """Backup errors end the command with their own exit code and a short
    message, never a traceback: a file system that refuses or is full, a
    database that cannot be reached, too."""

    def wrapped(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except (BackupError, ConfigurationError) as exc:
            _fail(str(exc), getattr(exc, "exit_code", 1), exc)
        except subprocess.TimeoutExpired as exc:
            _fail(
                f"{exc.cmd[0]} did not end in time", DatabaseToolFailed.exit_code, exc
            )
        except SQLAlchemyError as exc:
            # The driver's own words say why (refused, unknown host, …);
            # never the URL, which may hold a password.
            _fail(
                "the database cannot be reached or refused the request: "
                + storage_reason(exc),
                EXIT_DATABASE,
                exc,
            )
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            _fail(
                f"the file system refused: {exc.strerror or exc}{where}",
                EXIT_FILE_SYSTEM,
                exc,
            )

    wrapped.__name__ = func.__name__
    wrapped.__doc__ = func.__doc__
    return wrapped


def _fail(message: str, code: int, cause: BaseException) -> None:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(code) from cause


@main.group()
def backup() -> None:
    """Encrypted backups of the database and the key material, and restores."""


@backup.command("key")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_exits_with_code
def backup_key(path: Path) -> None:
    """Write a new random backup key to PATH (mode 0600, never overwritten)."""
    write_new_key(path)
    click.echo(f"new backup key written to {path}: keep a copy apart from the backups")


@backup.command("create")
@click.option(
    "--output",
    type=click.Path(),
    default=".",
    show_default=True,
    help="A directory (created if need be) to write sceau-<UTC time>.sceau-backup "
    "in, or a file name ending in .sceau-backup.",
)
@KEY_FILE_OPTION
@json_option
@_exits_with_code
def backup_create(output: str, key_file: Path | None, as_json: bool) -> None:
    """Back up the database and the data directory's key material, encrypted,
    while the service runs."""
    settings = get_settings()
    key = load_backup_key(settings, key_file)
    path = output_file(output)
    manifest = create_backup(
        data_dir=settings.data_dir,
        database_url=settings.resolved_database_url,
        output=path,
        key=key,
    )
    data = {"fichier": str(path), "manifeste": manifest}
    _emit(as_json, data, lambda: _created_text(path, manifest))


def output_file(output: str) -> Path:
    """The file to write: ``output`` itself when it names a
    ``.sceau-backup`` file, else a new time-named file in the directory
    ``output`` (made if missing), so that a scheduled run given a
    directory that does not exist yet never writes a file of its name."""
    path = Path(output)
    if output.endswith("/") or path.is_dir() or not path.name.endswith(BACKUP_SUFFIX):
        if path.exists() and not path.is_dir():
            raise BackupError(
                f"{path} is a file: give a directory, or a new file name ending in "
                f"{BACKUP_SUFFIX}"
            )
        path.mkdir(parents=True, exist_ok=True)
        return path / default_backup_name(utcnow())
    return path


def _created_text(output: Path, manifest: dict[str, Any]) -> str:
    database = manifest["database"]
    lines = [
        f"backup written to {output}",
        f"  made at {manifest['created_at']}, {database['kind']} database at "
        f"revision {database['revision']}",
        f"  snapshot of the database at {manifest.get('snapshot_at') or 'unknown'}",
        f"  newest signature: {database['newest_signature_at'] or 'none'}",
        *_count_lines(database["counts"], None),
        f"  {len(manifest['members'])} members, each with its SHA-256",
    ]
    if not manifest["master_key_included"]:
        lines.append(
            "  the master key (SCEAU_MASTER_KEY) is not in the data directory, so "
            "not in the backup: keep its copy apart"
        )
    return "\n".join(lines)


@backup.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_FILE_OPTION
@json_option
@_exits_with_code
def backup_show(file: Path, key_file: Path | None, as_json: bool) -> None:
    """Print a backup's manifest (the rest of the file is checked by restore)."""
    manifest = read_manifest(file, load_backup_key(get_settings(), key_file))
    _emit(
        as_json,
        manifest,
        lambda: "\n".join(
            [
                f"made at {manifest['created_at']}, "
                f"{manifest['database']['kind']} database at revision "
                f"{manifest['database']['revision']}",
                f"snapshot of the database at "
                f"{manifest.get('snapshot_at') or 'unknown'}, newest signature "
                f"{manifest['database']['newest_signature_at'] or 'none'}",
                *_count_lines(manifest["database"]["counts"], None),
                *(f"  {m['sha256']}  {m['name']}" for m in manifest["members"]),
            ]
        ),
    )


@backup.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The data directory to restore into (default: SCEAU_DATA_DIR).",
)
@click.option(
    "--database-url",
    default=None,
    help="The database to restore into (default: SCEAU_DATABASE_URL, else the "
    "data directory's SQLite file); required with --force unless --no-database. "
    "Never put a password here, where every user sees the command line: set it "
    "in SCEAU_DATABASE_URL or a PGPASSFILE.",
)
@click.option(
    "--files/--no-files",
    "with_files",
    default=True,
    help="Restore the data directory's files.",
)
@click.option(
    "--database/--no-database",
    "with_database",
    default=True,
    help="Restore the database.",
)
@click.option("--force", is_flag=True, help="Replace a target that is not empty.")
@KEY_FILE_OPTION
@json_option
@_exits_with_code
def backup_restore(
    file: Path,
    data_dir: Path | None,
    database_url: str | None,
    with_files: bool,
    with_database: bool,
    force: bool,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Restore FILE into a new data directory and/or database, then migrate
    it to this version's schema and check its counts against the backup."""
    if force and with_database and database_url is None:
        raise BackupError(
            "--force replaces the target database: name it with --database-url "
            "(the one in SCEAU_DATABASE_URL is not taken by default), or give "
            "--no-database"
        )
    settings = get_settings()
    key = load_backup_key(settings, key_file)
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    target = settings.model_copy(update=overrides)
    restored = restore_backup(
        file,
        key,
        data_dir=target.data_dir if with_files else None,
        database_url=target.resolved_database_url if with_database else None,
        force=force,
    )
    opens = _pki_opens(target) if with_files else None
    tokens = pki_tokens(target.pki_dir) if with_files else []
    data = _restored_data(restored, opens, tokens)
    _emit(as_json, data, lambda: _restored_text(restored, opens, tokens))
    if restored.mismatches:
        raise SystemExit(1)


def pki_tokens(pki_dir: Path) -> list[str]:
    """The PKCS#11 tokens that hold the restored PKI's keys (named by its
    ``*.key.pkcs11`` references), in order; empty for a PKI of sealed files."""
    tokens: set[str] = set()
    for reference in sorted(pki_dir.glob("*.key.pkcs11")):
        try:
            token = json.loads(reference.read_text()).get("token")
        except (OSError, ValueError, AttributeError):
            token = None
        tokens.add(token if isinstance(token, str) else "?")
    return sorted(tokens)


def _pki_opens(target: Settings) -> bool | None:
    """Whether the restored PKI's sealed keys open with the master key the
    service will use; None when no master key is known here yet, or when
    the keys are in a token (nothing sealed to open)."""
    sealed = target.pki_dir / "tsa.key.sealed"
    if not sealed.is_file():
        return None
    if target.master_key is None and not (target.data_dir / MASTER_KEY_FILE).is_file():
        return None
    try:
        KeySealer(target.load_master_key()).unseal(sealed.read_bytes(), "pki:tsa")
    except ConfigurationError:
        return False
    return True


def _restored_data(
    restored: Restored, opens: bool | None, tokens: list[str]
) -> dict[str, Any]:
    database = restored.manifest["database"]
    return {
        "cree_le": restored.manifest["created_at"],
        "instantane_le": restored.manifest.get("snapshot_at"),
        "repertoire_donnees": None
        if restored.data_dir is None
        else str(restored.data_dir),
        "base": None
        if restored.database_url is None
        else safe_url(restored.database_url),
        "revision_sauvegarde": database["revision"],
        "revision_restauree": restored.revision_after,
        "comptes_sauvegarde": database["counts"],
        "comptes_restaures": restored.counts,
        "ecarts": {
            name: {"sauvegarde": saved, "restaure": found}
            for name, (saved, found) in restored.mismatches.items()
        },
        "pki_ouverte_par_la_cle_maitre": opens,
        "pki_dans_les_jetons": tokens,
    }


def _restored_text(restored: Restored, opens: bool | None, tokens: list[str]) -> str:
    manifest = restored.manifest
    database = manifest["database"]
    lines = [
        f"backup made at {manifest['created_at']} restored (database as at "
        f"{manifest.get('snapshot_at') or 'unknown'})"
    ]
    if restored.data_dir is not None:
        lines.append(f"  data directory: {restored.data_dir}")
    if restored.database_url is not None:
        lines += [
            f"  database: {safe_url(restored.database_url)}, revision "
            f"{database['revision']} -> {restored.revision_after}",
            *_count_lines(database["counts"], restored.counts),
        ]
        mismatches = restored.mismatches
        lines.append(
            f"  MISMATCH in {len(mismatches)} tables: " + ", ".join(sorted(mismatches))
            if mismatches
            else f"  all {len(database['counts'])} tables hold the backup's row counts"
        )
    if tokens:
        lines.append(
            "  the PKI's CA keys are in the PKCS#11 token "
            + ", ".join(repr(token) for token in tokens)
            + ", not in the backup: start the service with SCEAU_PKCS11_MODULE, "
            "SCEAU_PKCS11_TOKEN and the PIN of that token"
        )
    if opens is True:
        lines.append("  the PKI's sealed keys open with the master key")
    elif opens is False:
        lines.append(
            "  WARNING: the PKI's sealed keys do not open with this master key: set "
            "SCEAU_MASTER_KEY to the key of the backed-up service"
        )
    elif restored.data_dir is not None and not tokens:
        lines.append(
            "  set SCEAU_MASTER_KEY to the backed-up service's master key before start"
        )
    return "\n".join(lines)


def _count_lines(saved: dict[str, int], restored: dict[str, int] | None) -> list[str]:
    lines = []
    for name in KEY_TABLES:
        if name not in saved:
            continue
        line = f"  {name:<20} {saved[name]:>9}"
        if restored is not None:
            found = restored.get(name)
            line += f" {'-' if found is None else found:>9}"
            line += "  ok" if found == saved[name] else "  MISMATCH"
        lines.append(line)
    return lines
