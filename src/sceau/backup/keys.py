"""The backup key: 32 random bytes, base64, from a file or the environment.

It is never written into a backup, a log or the command's output. Lose it
and the backups are lost with it: keep it apart from them (and apart from
the master key's copy).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from sceau.backup.errors import BackupKeyMissing
from sceau.errors import ConfigurationError
from sceau.secret_files import read_secret_file
from sceau.settings import Settings

BACKUP_KEY_BYTES = 32


def load_backup_key(settings: Settings, key_file: Path | None = None) -> bytes:
    """The key from ``key_file``, else SCEAU_BACKUP_KEY_FILE, else
    SCEAU_BACKUP_KEY."""
    path = key_file or settings.backup_key_file
    if path is not None:
        return _read_key_file(path)
    if settings.backup_key is not None:
        return _decode(settings.backup_key.get_secret_value(), "SCEAU_BACKUP_KEY")
    raise BackupKeyMissing(
        "no backup key: set SCEAU_BACKUP_KEY_FILE to a key file (create one with "
        "`sceau backup key FILE`) or SCEAU_BACKUP_KEY to 32 random bytes in base64"
    )


def write_new_key(path: Path) -> None:
    """A new random key in ``path``, mode 0600; an existing file is kept."""
    text = base64.b64encode(secrets.token_bytes(BACKUP_KEY_BYTES)).decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BackupKeyMissing(
            f"{path} exists: a backup key is never overwritten (the backups made "
            "under it would be lost); choose another file"
        ) from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def _read_key_file(path: Path) -> bytes:
    try:
        text = read_secret_file(path, "the backup key file")
    except ConfigurationError as exc:
        raise BackupKeyMissing(str(exc)) from exc
    return _decode(text, str(path))


def _decode(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BackupKeyMissing(
            f"the backup key in {where} is not base64 (use `sceau backup key FILE`)"
        ) from exc
    if len(raw) != BACKUP_KEY_BYTES:
        raise BackupKeyMissing(
            f"the backup key in {where} must be {BACKUP_KEY_BYTES} bytes, "
            f"it has {len(raw)}"
        )
    return raw
