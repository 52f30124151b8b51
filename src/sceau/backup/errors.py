"""What can stop a backup or a restore. These are the operator's errors, in
English like the rest of the CLI; each carries the exit code the CLI ends
with, so that a script can tell a wrong key from a damaged file."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or a restore could not be done; the message says why."""

    exit_code = 1


class BackupKeyMissing(BackupError):
    """No backup key is configured, or it is not 32 bytes in base64."""


class WrongBackupKey(BackupError):
    exit_code = 3


class BackupDamaged(BackupError):
    """Truncated, altered or not a backup at all: nothing was restored."""

    exit_code = 4


class TargetNotEmpty(BackupError):
    exit_code = 5


class DatabaseToolFailed(BackupError):
    """``pg_dump`` or ``pg_restore`` failed, or is missing."""

    exit_code = 6
