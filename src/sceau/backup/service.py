"""Making a backup and restoring one.

A backup is one file (``container``) holding a tar archive whose first
member is ``manifest.json``: when it was made, the database's kind, schema
revision and row counts, and the size and SHA-256 of every other member.
The other members are the database's copy (``database/…``) and the data
directory's files that cannot be made again (``files/…``: the PKI's
certificates and sealed keys, the development master key when there is
one).

A restore reads and checks the whole file into a staging directory (inside
the target data directory, so that installing its files is a rename on one
file system) before it touches any target, so that a wrong key, a truncated
or altered file leaves the targets as they were.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sceau import __version__
from sceau.backup import databases
from sceau.backup.container import FORMAT_VERSION, DecryptingReader, EncryptingWriter
from sceau.backup.errors import BackupDamaged, BackupError, TargetNotEmpty
from sceau.db import iso_utc, upgrade_database, utcnow
from sceau.settings import MASTER_KEY_FILE

MANIFEST = "manifest.json"
FILES_PREFIX = "files/"
BACKUP_SUFFIX = ".sceau-backup"
PARTIAL_SUFFIX = BACKUP_SUFFIX + ".partial"
# Staging directories of a backup being made or a restore under way.
STAGING_PREFIXES = (".sceau-backup-", ".sceau-restore-")
# Rewritten at each start, or held by the running process: not saved.
_NOT_SAVED_DIRECTORIES = {"front"}
_NOT_SAVED_NAMES = {".lock"}
# The tables a restore's summary names first; every table is counted.
KEY_TABLES = (
    "clients",
    "identities",
    "persons",
    "signatures",
    "signed_documents",
    "anchors",
    "anchor_batches",
    "delegations",
    "acts",
    "events",
    "invoices",
    "issued_certificates",
)
_COPY_BYTES = 1 << 20


@dataclass(frozen=True)
class Member:
    name: str
    path: Path
    size: int
    sha256: str
    mode: int


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    data_dir: Path | None
    database_url: str | None
    counts: dict[str, int]
    revision_after: str | None

    @property
    def mismatches(self) -> dict[str, tuple[int, int | None]]:
        """Tables whose restored count differs from the backup's; none when
        the database was not restored (``--no-database``)."""
        if self.database_url is None:
            return {}
        saved: dict[str, int] = self.manifest["database"]["counts"]
        return {
            name: (count, self.counts.get(name))
            for name, count in saved.items()
            if self.counts.get(name) != count
        }


# -- create --------------------------------------------------------------------


def default_backup_name(now: datetime) -> str:
    return f"sceau-{now.strftime('%Y%m%dT%H%M%SZ')}{BACKUP_SUFFIX}"


def create_backup(
    *, data_dir: Path, database_url: str, output: Path, key: bytes
) -> dict[str, Any]:
    """Write the backup to ``output`` (a new file); returns its manifest."""
    if output.exists():
        raise BackupError(f"{output} exists: a backup never overwrites a file")
    output.parent.mkdir(parents=True, exist_ok=True)
    # Refused before the database is copied, not after.
    list(_walk(data_dir))
    with tempfile.TemporaryDirectory(
        dir=output.parent, prefix=STAGING_PREFIXES[0]
    ) as staging_name:
        staging = Path(staging_name)
        (staging / "database").mkdir()
        snapshot = databases.take_snapshot(database_url, staging / "database")
        members = [_member(snapshot.member, snapshot.path)]
        members += _stage_data_files(data_dir, database_url, staging / "files")
        manifest = _manifest(snapshot, members, data_dir)
        _write_container(output, manifest, members, key)
    return manifest


def _stage_data_files(data_dir: Path, database_url: str, staging: Path) -> list[Member]:
    """Copies of the data directory's files to keep, and their members."""
    database_files: set[Path] = set()
    if databases.database_kind(database_url) == "sqlite":
        database = databases.sqlite_path(database_url).resolve()
        database_files = {
            Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")
        }
    members = []
    for path in sorted(_walk(data_dir)):
        relative = path.relative_to(data_dir)
        if path.resolve() in database_files or path.name.endswith(
            (BACKUP_SUFFIX, PARTIAL_SUFFIX)
        ):
            continue
        copy = staging / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
        members.append(_member(FILES_PREFIX + relative.as_posix(), copy, path))
    return members


def _walk(directory: Path, top: bool = True) -> Iterator[Path]:
    """The regular files under ``directory`` that a backup saves. A
    symbolic link is refused: what it points to may lie outside the data
    directory, and a restore would bring back a file where a link was."""
    if top and not directory.is_dir():
        raise BackupError(f"no data directory at {directory}")
    for entry in sorted(directory.iterdir()):
        if entry.name in _NOT_SAVED_NAMES or entry.name.startswith(STAGING_PREFIXES):
            continue
        if top and entry.name in _NOT_SAVED_DIRECTORIES and entry.is_dir():
            continue
        if entry.is_symlink():
            raise BackupError(
                f"{entry} is a symbolic link: a data directory holds files and "
                "directories only; replace the link by what it points to"
            )
        if entry.is_dir():
            yield from _walk(entry, top=False)
        elif stat.S_ISREG(entry.stat().st_mode):
            yield entry


def _member(name: str, path: Path, original: Path | None = None) -> Member:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_COPY_BYTES):
            digest.update(block)
    mode = stat.S_IMODE((original or path).stat().st_mode)
    return Member(name, path, path.stat().st_size, digest.hexdigest(), mode)


def _manifest(
    snapshot: databases.Snapshot, members: list[Member], data_dir: Path
) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "created_at": iso_utc(utcnow()),
        "snapshot_at": snapshot.snapshot_at,
        "service_version": __version__,
        "database": {
            "kind": snapshot.kind,
            "schema": snapshot.schema,
            "revision": snapshot.revision,
            "newest_signature_at": snapshot.newest_signature_at,
            "counts": snapshot.counts,
        },
        "master_key_included": (data_dir / MASTER_KEY_FILE).is_file(),
        "members": [
            {"name": m.name, "size": m.size, "sha256": m.sha256, "mode": m.mode}
            for m in members
        ],
    }


def _write_container(
    output: Path, manifest: dict[str, Any], members: list[Member], key: bytes
) -> None:
    partial = output.with_name(output.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BackupError(
            f"{partial} exists: another backup is being written to it, or a run "
            "was stopped; remove it once no backup runs"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as out:
            writer = EncryptingWriter(out, key)
            with tarfile.open(
                fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT
            ) as tar:  # type: ignore[call-overload]
                body = json.dumps(manifest, indent=2, sort_keys=True).encode()
                tar.addfile(_tar_info(MANIFEST, len(body), 0o600), io.BytesIO(body))
                for member in members:
                    with member.path.open("rb") as handle:
                        tar.addfile(
                            _tar_info(member.name, member.size, member.mode), handle
                        )
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
        _publish(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _publish(partial: Path, output: Path) -> None:
    """``partial`` under its final name, never over a file that appeared
    there meanwhile, and durably (the directory's entry is synced too)."""
    try:
        os.link(partial, output)
    except FileExistsError as exc:
        raise BackupError(
            f"{output} appeared while the backup was written: a backup never "
            "overwrites a file"
        ) from exc
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # A file system without hard links: a rename, after a last check.
        if output.exists():
            raise BackupError(
                f"{output} exists: a backup never overwrites a file"
            ) from exc
        os.rename(partial, output)
    else:
        partial.unlink()
    _sync_directory(output.parent)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tar_info(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = int(utcnow().timestamp())
    return info


# -- read ----------------------------------------------------------------------


def read_manifest(source: Path, key: bytes) -> dict[str, Any]:
    """The manifest alone (the rest of the file is not checked)."""
    with source.open("rb") as handle:
        reader = DecryptingReader(handle, key)
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            return _first_manifest(tar)


def _first_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise BackupDamaged("the backup has no manifest")
    extracted = tar.extractfile(first)
    assert extracted is not None  # a regular file, checked above
    try:
        manifest: dict[str, Any] = json.loads(extracted.read())
    except ValueError as exc:
        raise BackupDamaged("the backup's manifest is damaged") from exc
    _check_manifest(manifest)
    return manifest


def _check_manifest(manifest: Any) -> None:
    """The manifest has what a restore reads, and names one database copy
    and files under ``files/`` only."""
    try:
        database = manifest["database"]
        members = manifest["members"]
        well_formed = (
            isinstance(manifest["created_at"], str)
            and database["kind"] in ("sqlite", "postgresql")
            and isinstance(database["counts"], dict)
            and all(isinstance(v, int) for v in database["counts"].values())
            and isinstance(members, list)
            and all(
                isinstance(m["name"], str)
                and isinstance(m["size"], int)
                and isinstance(m["sha256"], str)
                and isinstance(m["mode"], int)
                for m in members
            )
        )
    except (KeyError, TypeError) as exc:
        raise BackupDamaged("the backup's manifest is damaged") from exc
    if not well_formed:
        raise BackupDamaged("the backup's manifest is damaged")
    names = [m["name"] for m in members]
    if len(set(names)) != len(names):
        raise BackupDamaged("the backup's manifest lists a member twice")
    copies = [n for n in names if n.startswith("database/")]
    if len(copies) != 1:
        raise BackupDamaged("the backup's manifest does not name one database copy")
    for name in names:
        if not name.startswith(("database/", FILES_PREFIX)):
            raise BackupDamaged(f"the backup's manifest names {name!r}")
        _safe_relative(name)


def unpack(source: Path, key: bytes, staging: Path) -> dict[str, Any]:
    """Decrypt ``source`` into ``staging``, checking every member against
    the manifest and the file's end; returns the manifest."""
    try:
        with source.open("rb") as handle:
            reader = DecryptingReader(handle, key)
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                manifest = _first_manifest(tar)
                expected = {m["name"]: m for m in manifest["members"]}
                seen = set()
                while (info := tar.next()) is not None:
                    entry = expected.get(info.name)
                    if entry is None:
                        raise BackupDamaged(
                            f"the backup holds {info.name!r}, which its manifest "
                            "does not list"
                        )
                    if not info.isfile():
                        raise BackupDamaged(
                            f"the backup holds {info.name!r} as a link or a "
                            "special file: a backup holds regular files only"
                        )
                    if info.name in seen:
                        raise BackupDamaged(f"the backup holds {info.name!r} twice")
                    extracted = tar.extractfile(info)
                    assert extracted is not None  # a regular file, checked above
                    _extract(extracted, staging / _safe_relative(info.name), entry)
                    seen.add(info.name)
            reader.finish()
    except tarfile.TarError as exc:
        raise BackupDamaged(f"the backup's archive is damaged: {exc}") from exc
    missing = set(expected) - seen
    if missing:
        raise BackupDamaged(
            "the backup lacks members its manifest lists: " + ", ".join(sorted(missing))
        )
    return manifest


def _safe_relative(name: str) -> Path:
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or not path.parts
        or any(part in ("..", ".") for part in name.split("/"))
        or "\\" in name
        or "\0" in name
    ):
        raise BackupDamaged(f"the backup names a path outside itself: {name!r}")
    return Path(*path.parts)


def _extract(extracted: IO[bytes], target: Path, entry: dict[str, Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while block := extracted.read(_COPY_BYTES):
            digest.update(block)
            size += len(block)
            out.write(block)
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        raise BackupDamaged(
            f"{entry['name']} does not match the SHA-256 in the backup's manifest"
        )


# -- restore -------------------------------------------------------------------


def restore_backup(
    source: Path,
    key: bytes,
    *,
    data_dir: Path | None,
    database_url: str | None,
    force: bool = False,
) -> Restored:
    """Bring the backup back into ``data_dir`` and the database at
    ``database_url`` (either may be None to leave that part out).

    The whole file is checked into a staging directory first. The database
    is then put back all or nothing (SQLite: one rename; PostgreSQL: one
    transaction), and the files moved into place by renames within the
    data directory: a failure there, after the database, leaves the
    database restored and the files partly installed, and the same restore
    run again with ``force`` completes it."""
    if data_dir is None and database_url is None:
        raise BackupError("nothing to restore: give a data directory or a database")
    if data_dir is not None:
        _check_data_dir(data_dir, force=force)
    if database_url is not None:
        databases.check_target_empty(database_url, force=force)

    created: Path | None = None
    if data_dir is not None:
        workspace = data_dir
        if not data_dir.exists():
            created = data_dir
    elif database_url is not None and databases.database_kind(database_url) == "sqlite":
        workspace = databases.sqlite_path(database_url).parent
    else:
        workspace = Path(tempfile.gettempdir())
    try:
        workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(
            dir=workspace, prefix=STAGING_PREFIXES[1]
        ) as name:
            staging = Path(name)
            manifest = unpack(source, key, staging)
            if database_url is not None:
                database = manifest["database"]
                [dump] = [
                    m["name"]
                    for m in manifest["members"]
                    if m["name"].startswith("database/")
                ]
                databases.restore_database(
                    database_url,
                    database["kind"],
                    staging / dump,
                    database["schema"],
                    force=force,
                )
            if data_dir is not None:
                _install_files(manifest, staging, data_dir)
    except BaseException:
        if created is not None and created.is_dir() and not any(created.iterdir()):
            created.rmdir()
        raise

    revision_after = None
    counts: dict[str, int] = {}
    if database_url is not None:
        # A backup made under an older schema comes up to this version's.
        upgrade_database(database_url)
        counts = databases.restored_counts(database_url)
        revision_after = _revision(database_url)
    return Restored(manifest, data_dir, database_url, counts, revision_after)


def _check_data_dir(data_dir: Path, *, force: bool) -> None:
    if not data_dir.exists():
        return
    if not data_dir.is_dir():
        raise TargetNotEmpty(f"{data_dir} is not a directory")
    entries = [e for e in data_dir.iterdir() if not e.name.startswith(STAGING_PREFIXES)]
    if entries and not force:
        raise TargetNotEmpty(
            f"the target data directory {data_dir} is not empty: restore into a new "
            "directory, or give --force to replace its files"
        )
    # A forced restore replaces files: never through a link to elsewhere.
    for path in [data_dir, *data_dir.rglob("*")]:
        if path != data_dir and path.is_symlink():
            raise BackupError(
                f"{path} is a symbolic link: a restore does not write through "
                "links; remove it first"
            )


def _install_files(manifest: dict[str, Any], staging: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    members = [m for m in manifest["members"] if m["name"].startswith(FILES_PREFIX)]
    if any(m["name"].startswith(FILES_PREFIX + "pki/") for m in members):
        # A forced restore replaces the PKI whole, never mixes two: an error
        # here stops the restore.
        pki = data_dir / "pki"
        if pki.exists():
            shutil.rmtree(pki)
    for member in members:
        relative = _safe_relative(member["name"][len(FILES_PREFIX) :])
        target = data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = staging / _safe_relative(member["name"])
        os.chmod(staged, member["mode"] & 0o777)
        # Staged inside the data directory: a rename on one file system.
        os.replace(staged, target)


def _revision(database_url: str) -> str | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalar()
    finally:
        engine.dispose()
