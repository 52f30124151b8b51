"""Files that hold a secret (the token's PIN, the backup key): readable and
writable by their owner alone, their first line the secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sceau.errors import ConfigurationError

# Group and others: none of them may read or write a secret's file.
OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def read_secret_file(path: Path, setting: str) -> str:
    """The first line of ``path``, stripped (empty if the file is).

    Refused, with a ``ConfigurationError`` naming ``setting`` and the file,
    when the file cannot be read, or when another user than its owner may
    read or write it: the secret would no longer be one."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ConfigurationError(
            f"{setting}: cannot read {path} ({exc.strerror})"
        ) from exc
    with os.fdopen(fd, "rb") as handle:
        # The mode of the file opened, not of whatever the name points to later.
        mode = os.fstat(handle.fileno()).st_mode
        if mode & OPEN_TO_OTHERS:
            raise ConfigurationError(
                f"{setting}: {path} is open to other users (mode "
                f"{stat.S_IMODE(mode):04o}): make it readable by the service's "
                f"user alone, chmod 600 {path}"
            )
        try:
            first = handle.readline()
        except OSError as exc:
            raise ConfigurationError(
                f"{setting}: cannot read {path} ({exc.strerror})"
            ) from exc
    try:
        return first.decode().strip()
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{setting}: {path} is not UTF-8 text") from exc
